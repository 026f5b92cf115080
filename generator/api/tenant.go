package api

import "time"

// AppsDir holds the first-party app charts tenants run, one directory per
// app with its chart and the CUE schema of its values (values.cue).
const AppsDir = "packages/apps"

// TenantServiceAccount is the service account, in every tenant namespace,
// that Flux impersonates for the tenant's releases.
const TenantServiceAccount = "tenant-reconciler"

// TenantBundle is a set of tenants released together; each tenant is an
// artifact of its own.
type TenantBundle struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	ReleaseDate time.Time `json:"releaseDate"`
	// Tenants sorted by name.
	Tenants []*Tenant `json:"tenants"`
}

// Tenant returns the tenant called name, or nil.
func (b *TenantBundle) Tenant(name string) *Tenant {
	for _, t := range b.Tenants {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Tenant is one tenant of a tenant bundle.
type Tenant struct {
	Name      string       `json:"name"`
	Version   string       `json:"version"`
	Parent    string       `json:"parent,omitempty"`
	Namespace string       `json:"namespace"`
	Quota     TenantQuota  `json:"quota"`
	Limits    TenantLimits `json:"limits"`
	Isolated  bool         `json:"isolated"`
	// Apps the tenant may run.
	Apps []string `json:"apps"`
	// Instances sorted by name.
	Instances []*Instance `json:"-"`
	// Pos is where the tenant is declared.
	Pos string `json:"-"`
}

// TenantQuota is a tenant's ResourceQuota.
type TenantQuota struct {
	CPU     string `json:"cpu"`
	Memory  string `json:"memory"`
	Storage string `json:"storage"`
	Pods    int    `json:"pods"`
}

// TenantLimits are a tenant's LimitRange defaults for containers.
type TenantLimits struct {
	DefaultCPU           string `json:"defaultCPU"`
	DefaultMemory        string `json:"defaultMemory"`
	DefaultRequestCPU    string `json:"defaultRequestCPU"`
	DefaultRequestMemory string `json:"defaultRequestMemory"`
}

// Instance is an app a tenant runs: a release of a first-party app chart.
type Instance struct {
	Name     string         `json:"name"`
	App      string         `json:"app"`
	Values   map[string]any `json:"values"`
	Wait     bool           `json:"wait"`
	Timeout  Duration       `json:"timeout"`
	Interval Duration       `json:"interval"`
	// Pos is where the instance is declared.
	Pos string `json:"-"`
}

// TenantRelease is the record of a tenant bundle's build (release.json):
// the app charts, and per tenant its artifact and what its instances pull.
type TenantRelease struct {
	Bundle      string          `json:"bundle"`
	Version     string          `json:"version"`
	ReleaseDate string          `json:"releaseDate"`
	Apps        []ReleaseApp    `json:"apps"`
	Tenants     []ReleaseTenant `json:"tenants"`
	// Images every instance pulls, sorted.
	Images []string `json:"images,omitempty"`
}

// ReleaseApp is an app chart of a tenant release (PREFIX/apps/<app>).
type ReleaseApp struct {
	Name  string      `json:"name"`
	Chart ArtifactRef `json:"chart"`
	// Images the chart pulls with its own values; its artifact carries them.
	Images []string `json:"images,omitempty"`
}

// ReleaseTenant is one tenant of a release (PREFIX/tenants/<tenant>).
type ReleaseTenant struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Namespace string            `json:"namespace"`
	Parent    string            `json:"parent,omitempty"`
	Artifact  ArtifactRef       `json:"artifact"`
	Instances []ReleaseInstance `json:"instances"`
	Images    []string          `json:"images,omitempty"`
}

// ReleaseInstance is an app instance of a tenant and the images it pulls.
type ReleaseInstance struct {
	Name   string   `json:"name"`
	App    string   `json:"app"`
	Images []string `json:"images,omitempty"`
}
