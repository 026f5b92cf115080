package flux

import (
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Install describes the Flux controllers distgen dev installs in a local
// cluster: source, helm and kustomize controllers, each one replica, with
// the images the bundle pins.
type Install struct {
	// Images maps each controller (source-controller, helm-controller,
	// kustomize-controller) to its image.
	Images map[string]string
	// SourceHostNetwork runs the source-controller in the node's network,
	// where a registry on the node's loopback address is reachable.
	SourceHostNetwork bool
	// CA, when set, is PEM certificates the source-controller trusts
	// besides its image's: those of a registry with a private CA.
	CA []byte
}

// caDir is where the source-controller finds Install.CA, one of the
// directories Go's SSL_CERT_DIR names.
const caDir = "/etc/distgen-dev-ca"

// RequeueDependency is how soon the helm and kustomize controllers look
// again at an object whose dependencies are not ready.
const RequeueDependency = 5 * time.Second

// Controllers are the Flux controllers a bundle needs, in install order.
var Controllers = []string{"source-controller", "kustomize-controller", "helm-controller"}

// Ports of the source-controller's storage server, metrics and health
// endpoints, chosen away from the node's own when it shares its network.
const (
	sourceStoragePort = 9790
	sourceMetricsPort = 9791
	sourceHealthPort  = 9792
)

// InstallObjects returns the objects of in (without Flux's CRDs), as one
// YAML stream.
func InstallObjects(in Install) ([]byte, error) {
	labels := map[string]string{"app.kubernetes.io/part-of": "flux", "app.kubernetes.io/managed-by": "distgen-dev"}
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: BootstrapNamespace, Labels: labels}}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: metav1.ObjectMeta{Name: "flux-controller", Namespace: BootstrapNamespace, Labels: labels}}
	// A development cluster: the controllers reconcile as cluster admin,
	// as Flux's own install does.
	crb := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: "distgen-dev-flux", Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: BootstrapNamespace}},
	}
	objs := []any{ns, sa, crb}
	if len(in.CA) > 0 {
		objs = append(objs, &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "distgen-dev-ca", Namespace: BootstrapNamespace, Labels: labels},
			Data:       map[string]string{"ca.crt": string(in.CA)},
		})
	}
	for _, name := range Controllers {
		image, ok := in.Images[name]
		if !ok || image == "" {
			return nil, fmt.Errorf("no image for %s", name)
		}
		d := controllerDeployment(name, image, sa.Name, labels, in.SourceHostNetwork && name == "source-controller")
		if name == "source-controller" && len(in.CA) > 0 {
			// Go reads every file in SSL_CERT_DIR's directories: the
			// image's own roots stay, the CA joins them.
			pod := &d.Spec.Template.Spec
			pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "ca", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "distgen-dev-ca"}},
			}})
			c := &pod.Containers[0]
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "ca", MountPath: caDir, ReadOnly: true})
			c.Env = append(c.Env, corev1.EnvVar{Name: "SSL_CERT_DIR", Value: "/etc/ssl/certs:" + caDir})
		}
		objs = append(objs, d)
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "source-controller", Namespace: BootstrapNamespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "source-controller"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(sourceStoragePort)}},
		},
	}
	objs = append(objs, svc)
	return MarshalAll(objs...)
}

func controllerDeployment(name, image, sa string, labels map[string]string, hostNetwork bool) *appsv1.Deployment {
	metrics, health := int32(8080), int32(9440)
	args := []string{"--watch-all-namespaces", "--log-level=info", "--events-addr=", "--enable-leader-election=false"}
	mounts := []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	volumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if name == "source-controller" {
		metrics, health = sourceMetricsPort, sourceHealthPort
		args = append(args, "--storage-path=/data",
			fmt.Sprintf("--storage-addr=:%d", sourceStoragePort),
			"--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.")
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	if name == "helm-controller" || name == "kustomize-controller" {
		// A release waiting on another is looked at again this soon (Flux's
		// default is 30s): a chain of dependencies comes up in seconds, not
		// minutes, on a cluster made to try a release.
		args = append(args, "--requeue-dependency="+RequeueDependency.String())
	}
	args = append(args, fmt.Sprintf("--metrics-addr=:%d", metrics), fmt.Sprintf("--health-addr=:%d", health))
	podLabels := map[string]string{"app": name}
	maps.Copy(podLabels, labels)
	dnsPolicy := corev1.DNSClusterFirst
	if hostNetwork {
		dnsPolicy = corev1.DNSClusterFirstWithHostNet
	}
	one := int32(1)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: BootstrapNamespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: sa,
					HostNetwork:        hostNetwork,
					DNSPolicy:          dnsPolicy,
					Containers: []corev1.Container{{
						Name:            "manager",
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            args,
						Env: []corev1.EnvVar{{Name: "RUNTIME_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"},
						}}},
						Ports: []corev1.ContainerPort{
							{Name: "http-prom", ContainerPort: metrics},
							{Name: "healthz", ContainerPort: health},
						},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("healthz")}}},
						VolumeMounts:   mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}
