// Package model holds the GraphQL types of package graph that bind to no
// Go type of Flowlake's own: gqlgen generates them (models_gen.go) from
// graph/*.graphqls, record types included, by `make generate`.
package model
