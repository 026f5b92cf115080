// Package plan is the second step of distgen's flow: from a loaded bundle it
// decides, without any I/O, what to build: the enabled components in
// dependency order, their namespaces, chart versions and final values. The
// same bundle always gives the same plan.
package plan
