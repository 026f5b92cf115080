package api

// Media types of the OCI artifacts distgen builds.
const (
	// Helm chart artifacts, as helm push writes them.
	MediaTypeHelmConfig = "application/vnd.cncf.helm.config.v1+json"
	MediaTypeHelmChart  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

	// Flux artifacts, as flux push artifact writes them.
	MediaTypeFluxConfig  = "application/vnd.cncf.flux.config.v1+json"
	MediaTypeFluxContent = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// Annotation keys set on artifacts.
const (
	AnnotationCreated     = "org.opencontainers.image.created"
	AnnotationTitle       = "org.opencontainers.image.title"
	AnnotationVersion     = "org.opencontainers.image.version"
	AnnotationDescription = "org.opencontainers.image.description"
	AnnotationSource      = "org.opencontainers.image.source"
	AnnotationRevision    = "org.opencontainers.image.revision"
	// AnnotationImages lists, comma-separated, the container images a chart
	// artifact's release pulls.
	AnnotationImages = "io.distgen.images"
)

// Labels and annotations distgen puts on the Kubernetes objects it renders.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "distgen"
	LabelBundle    = "distgen.io/bundle"
	LabelComponent = "distgen.io/component"
	// LabelTenant names the tenant an object belongs to.
	LabelTenant = "distgen.io/tenant"
)

// RegistryVariable is the Flux post-build variable that holds the registry
// (HOST/PREFIX) charts are pulled from. Chart sources in a bundle reference
// it instead of a fixed host, so one bundle digest serves every mirror.
const RegistryVariable = "DISTGEN_REGISTRY"
