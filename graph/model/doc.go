// Package model holds the GraphQL types of package graph that bind to no
// Go type of Flowlake's own: gqlgen generates most of them
// (models_gen.go) from graph/*.graphqls, record types included, by `make
// generate`. number.go is written by hand: how Floats print (plain
// numbers, exact integers for integer metrics) and the two types that
// carry metric values (AggregateRow, SeriesPoint), bound in gqlgen.yml.
package model
