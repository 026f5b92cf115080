package api

// Release is release.json: what a build produced, with the digests every
// artifact will have once pushed.
type Release struct {
	Bundle      string             `json:"bundle"`
	Version     string             `json:"version"`
	ReleaseDate string             `json:"releaseDate"`
	Artifact    ArtifactRef        `json:"artifact"`
	Components  []ReleaseComponent `json:"components"`
	// Images every component pulls and those the bundle declares, sorted.
	Images []string `json:"images,omitempty"`
	// PlatformImages are the images the bundle itself declares (no chart
	// renders them); the bundle artifact carries them.
	PlatformImages []string `json:"platformImages,omitempty"`
}

// ArtifactRef locates an OCI artifact relative to the registry prefix a
// release is pushed under.
type ArtifactRef struct {
	// Repository relative to the prefix ("charts/cilium", "bundles/demo").
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Digest of the OCI manifest.
	Digest string `json:"digest"`
	// File is the artifact's content in the output directory.
	File string `json:"file"`
	// SHA256 of File.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// ReleaseComponent is one component of a release.
type ReleaseComponent struct {
	Name        string      `json:"name"`
	Namespace   string      `json:"namespace"`
	ReleaseName string      `json:"releaseName"`
	DependsOn   []string    `json:"dependsOn,omitempty"`
	Chart       ArtifactRef `json:"chart"`
	Upstream    []Upstream  `json:"upstream,omitempty"`
	// Images the component pulls: from its rendered objects, its chart's
	// helm.sh/images annotation and its CUE declaration; sorted.
	Images []string `json:"images,omitempty"`
}
