// Package action holds one struct per user operation (Vet, Build, Template,
// Graph). Each has exported fields for its inputs and a Run method that
// drives the flow load → plan → render → artifact; the CLI binds flags to
// the fields and prints what Run returns.
package action
