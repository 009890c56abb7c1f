// Package generated is gqlgen's executable schema for package graph:
// generated from graph/*.graphqls by `make generate`; do not edit.
package generated
