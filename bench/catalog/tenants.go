package catalog

import (
	"fmt"
	"strings"
)

// TenantsFile is where Tenants' bundle goes in a copy of the repository.
const TenantsFile = "bundles/generated_tenants.cue"

// Tenants is a CUE file (package bundles, for the repository's project)
// with a tenant bundle of n tenants, each running three app instances: a
// postgres cluster, a redis and a virtual machine. Redis waits for nothing
// when noWait is set, for clusters without nodes (the end-to-end tests);
// the other two are custom resources, ready when created.
func Tenants(bundle string, n int, noWait bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package bundles\n\n// %d generated tenants with three apps each.\ntenantBundles: %q: {\n\tversion: \"1.0.0\"\n\ttenants: {\n", n, bundle)
	for i := range n {
		fmt.Fprintf(&b, "\t\t%q: {\n", fmt.Sprintf("t%03d", i))
		b.WriteString("\t\t\tquota: {cpu: \"4\", memory: \"8Gi\"}\n")
		b.WriteString("\t\t\tapps: [\"postgres\", \"redis\", \"virtual-machine\"]\n")
		b.WriteString("\t\t\tinstances: {\n")
		fmt.Fprintf(&b, "\t\t\t\tdb: {app: \"postgres\", values: {instances: %d, database: {name: \"app\", owner: \"app\"}}}\n", 1+i%3)
		fmt.Fprintf(&b, "\t\t\t\tcache: {app: \"redis\", wait: %t}\n", !noWait)
		fmt.Fprintf(&b, "\t\t\t\tvm: {app: \"virtual-machine\", values: {cpu: %d, memory: \"2Gi\"}}\n", 1+i%2)
		b.WriteString("\t\t\t}\n\t\t}\n")
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}
