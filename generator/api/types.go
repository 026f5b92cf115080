package api

import (
	"regexp"
	"time"
)

// nameRE is a DNS-1123 label, as schemas.#Name requires.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// IsName reports whether s is a DNS-1123 label of at most 53 characters,
// the names distgen makes paths and Kubernetes names of.
func IsName(s string) bool { return len(s) <= 53 && nameRE.MatchString(s) }

// Project is a distgen project as load returns it: the version pins and the
// platform bundles, decoded from the CUE under one root directory.
type Project struct {
	// Root is the absolute path of the project directory.
	Root     string
	Versions Versions
	// Bundles by name.
	Bundles map[string]*Bundle
	// TenantBundles by name.
	TenantBundles map[string]*TenantBundle
}

// Versions is versions.cue.
type Versions struct {
	Distribution string                      `json:"distribution"`
	ReleaseDate  time.Time                   `json:"releaseDate"`
	Components   map[string]ComponentVersion `json:"components"`
	// Apps pins the version of each first-party app chart.
	Apps map[string]string `json:"apps,omitempty"`
	// Talos pins the node operating system, when the platform runs on it.
	Talos *Talos `json:"talos,omitempty"`
}

// Talos is a Talos Linux version and its official system extensions.
type Talos struct {
	Version string `json:"version"`
	// Extensions maps an official extension (siderolabs/<name>) to its version.
	Extensions map[string]string `json:"extensions"`
}

// ComponentVersion pins the chart distgen emits for a component and the
// upstream charts it wraps.
type ComponentVersion struct {
	Chart    string            `json:"chart"`
	Upstream map[string]string `json:"upstream,omitempty"`
}

// Bundle is a platform bundle.
type Bundle struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	ReleaseDate time.Time `json:"releaseDate"`
	Description string    `json:"description,omitempty"`
	// Images the platform pulls that no component renders (Flux's own
	// controllers, node images).
	Images []string `json:"images,omitempty"`
	// Namespaces the bundle declares, by name.
	Namespaces map[string]NamespaceSpec `json:"namespaces,omitempty"`
	// ExternalAPIs are the API groups ("group") and kinds ("group/Kind")
	// the release uses whose CRDs it does not install.
	ExternalAPIs []string `json:"externalAPIs,omitempty"`
	// HasSite is true when the bundle types site values (#site).
	HasSite bool `json:"hasSite,omitempty"`
	// Components sorted by name.
	Components []*Component `json:"components"`
}

// NamespaceSpec is a namespace as a bundle declares it.
type NamespaceSpec struct {
	// PodSecurity is the Pod Security level; empty when not declared.
	PodSecurity PodSecurity       `json:"podSecurity,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PodSecurity is a Pod Security Standards level.
type PodSecurity string

const (
	PodSecurityPrivileged PodSecurity = "privileged"
	PodSecurityBaseline   PodSecurity = "baseline"
	PodSecurityRestricted PodSecurity = "restricted"
)

// Component returns the component called name, or nil.
func (b *Bundle) Component(name string) *Component {
	for _, c := range b.Components {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// CRDPolicy is how Helm treats the CRDs of a chart on install and upgrade.
type CRDPolicy string

const (
	CRDSkip          CRDPolicy = "Skip"
	CRDCreate        CRDPolicy = "Create"
	CRDCreateReplace CRDPolicy = "CreateReplace"
)

// Component is one Helm release of a bundle.
type Component struct {
	Name        string         `json:"name"`
	Namespace   string         `json:"namespace"`
	ReleaseName string         `json:"releaseName"`
	Version     string         `json:"version"`
	Chart       ChartSource    `json:"chart"`
	DependsOn   []string       `json:"dependsOn,omitempty"`
	Privileged  bool           `json:"privileged"`
	Optional    bool           `json:"optional"`
	Enabled     bool           `json:"enabled"`
	ValuesFiles []string       `json:"valuesFiles"`
	Values      map[string]any `json:"values"`
	CRDs        CRDPolicy      `json:"crds"`
	Timeout     Duration       `json:"timeout"`
	Interval    Duration       `json:"interval"`
	Wait        bool           `json:"wait"`
	Images      []string       `json:"images,omitempty"`
	// AsIs skips Helm lint for this component's chart.
	AsIs bool `json:"asIs"`
	// Helm are HelmRelease settings beyond distgen's defaults.
	Helm HelmSettings `json:"helm"`
	// Site makes the release read the site's values, when the bundle has any.
	Site bool `json:"site"`

	// ChartDir is the absolute path of the chart directory (Chart.Path
	// resolved against the project root), set by load; empty for wrapped
	// upstream charts.
	ChartDir string `json:"-"`
	// FileValues holds the parsed valuesFiles in order, read by load so that
	// plan stays free of I/O.
	FileValues []map[string]any `json:"-"`
	// Pos is where the component is declared ("bundles/demo.cue:12:3").
	Pos string `json:"-"`
}

// HelmSettings are HelmRelease settings (schemas.#HelmSettings); nil
// fields keep the defaults.
type HelmSettings struct {
	ValuesFrom     []ValuesReference `json:"valuesFrom,omitempty"`
	DisableHooks   *bool             `json:"disableHooks,omitempty"`
	MaxHistory     *int              `json:"maxHistory,omitempty"`
	Test           *HelmTest         `json:"test,omitempty"`
	DriftDetection *struct {
		Mode string `json:"mode"`
	} `json:"driftDetection,omitempty"`
	Install *HelmAction `json:"install,omitempty"`
	Upgrade *HelmAction `json:"upgrade,omitempty"`
}

// ValuesReference names values held in a Secret or ConfigMap.
type ValuesReference struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	ValuesKey  string `json:"valuesKey,omitempty"`
	TargetPath string `json:"targetPath,omitempty"`
	Optional   bool   `json:"optional,omitempty"`
}

// HelmTest runs a chart's Helm tests.
type HelmTest struct {
	Enable         bool     `json:"enable"`
	IgnoreFailures bool     `json:"ignoreFailures,omitempty"`
	Timeout        Duration `json:"timeout,omitempty"`
}

// HelmAction tunes install or upgrade.
type HelmAction struct {
	CRDs          CRDPolicy `json:"crds,omitempty"`
	Retries       *int      `json:"retries,omitempty"`
	Strategy      string    `json:"strategy,omitempty"`
	Replace       bool      `json:"replace,omitempty"`
	Force         bool      `json:"force,omitempty"`
	CleanupOnFail bool      `json:"cleanupOnFail,omitempty"`
}

// ChartSource is a first-party chart directory or upstream charts to wrap.
type ChartSource struct {
	Path     string     `json:"path,omitempty"`
	Upstream []Upstream `json:"upstream,omitempty"`
}

// Upstream is an upstream chart a component wraps.
type Upstream struct {
	Repository string `json:"repository"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Digest     string `json:"digest,omitempty"`
	Alias      string `json:"alias,omitempty"`
}

// DependencyName is the name the upstream chart has inside its wrapper chart.
func (u Upstream) DependencyName() string {
	if u.Alias != "" {
		return u.Alias
	}
	return u.Name
}

// ArchiveName is the file name Helm gives the chart's archive.
func (u Upstream) ArchiveName() string { return u.Name + "-" + u.Version + ".tgz" }

// Duration is a Go duration string as Flux accepts it ("5m").
type Duration string

// Parse returns the duration.
func (d Duration) Parse() (time.Duration, error) { return time.ParseDuration(string(d)) }
