// Package inventory lists the container images a release pulls: it parses
// the objects each chart renders with its final values and reads the pod
// templates of every workload kind, adds the images a chart declares in its
// helm.sh/images annotation, and those the bundle declares in CUE.
package inventory
