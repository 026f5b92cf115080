package flux

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestInstallObjects: one Deployment per controller with the image asked
// for; the source-controller in the node's network when asked, its
// Service pointing at the port its storage server listens on.
func TestInstallObjects(t *testing.T) {
	images := map[string]string{}
	for _, c := range Controllers {
		images[c] = "127.0.0.1:5000/images/ghcr.io/fluxcd/" + c + ":v9.9.9"
	}
	out, err := InstallObjects(Install{Images: images, SourceHostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	deployments := map[string]appsv1.Deployment{}
	var svc corev1.Service
	for _, doc := range bytes.Split(out, []byte("---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, meta.Kind)
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(doc, &d); err != nil {
				t.Fatal(err)
			}
			deployments[d.Name] = d
		case "Service":
			if err := yaml.UnmarshalStrict(doc, &svc); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := []string{"Namespace", "ServiceAccount", "ClusterRoleBinding", "Deployment", "Deployment", "Deployment", "Service"}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	for _, c := range Controllers {
		d, ok := deployments[c]
		if !ok {
			t.Fatalf("no Deployment %s", c)
		}
		spec := d.Spec.Template.Spec
		if got := spec.Containers[0].Image; got != images[c] {
			t.Errorf("%s: image %s, want %s", c, got, images[c])
		}
		if host := c == "source-controller"; spec.HostNetwork != host || (host && spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet) {
			t.Errorf("%s: hostNetwork %v, dnsPolicy %s", c, spec.HostNetwork, spec.DNSPolicy)
		}
	}
	storage := fmt.Sprintf("--storage-addr=:%d", svc.Spec.Ports[0].TargetPort.IntValue())
	for _, c := range []string{"helm-controller", "kustomize-controller"} {
		if args := deployments[c].Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--requeue-dependency=5s") {
			t.Errorf("%s does not requeue dependencies every 5s: %s", c, strings.Join(args, " "))
		}
	}
	if args := deployments["source-controller"].Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, storage) {
		t.Errorf("the Service targets %s, the source-controller's args are %s", storage, strings.Join(args, " "))
	}

	delete(images, "helm-controller")
	if _, err := InstallObjects(Install{Images: images}); err == nil || !strings.Contains(err.Error(), "helm-controller") {
		t.Errorf("no helm-controller image: err = %v", err)
	}
}

// TestInstallCA: with a CA, a ConfigMap holds it and the source-controller
// (only) reads it through SSL_CERT_DIR, beside its image's own roots.
func TestInstallCA(t *testing.T) {
	images := map[string]string{}
	for _, c := range Controllers {
		images[c] = "ghcr.io/fluxcd/" + c + ":v9.9.9"
	}
	out, err := InstallObjects(Install{Images: images, CA: []byte("a CA, PEM\n")})
	if err != nil {
		t.Fatal(err)
	}
	var ca *corev1.ConfigMap
	for _, doc := range bytes.Split(out, []byte("---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ConfigMap":
			ca = &corev1.ConfigMap{}
			if err := yaml.UnmarshalStrict(doc, ca); err != nil {
				t.Fatal(err)
			}
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(doc, &d); err != nil {
				t.Fatal(err)
			}
			c := d.Spec.Template.Spec.Containers[0]
			reads := slices.Contains(c.Env, corev1.EnvVar{Name: "SSL_CERT_DIR", Value: "/etc/ssl/certs:" + caDir}) &&
				slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == caDir })
			if reads != (d.Name == "source-controller") {
				t.Errorf("%s reads the CA: %v", d.Name, reads)
			}
		}
	}
	if ca == nil || ca.Name != "distgen-dev-ca" || ca.Data["ca.crt"] != "a CA, PEM\n" {
		t.Errorf("the CA's ConfigMap: %+v", ca)
	}
}
