package action

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/mod/module"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/render/flux"
)

// kubeClient applies objects to a dev cluster and waits on them.
type kubeClient struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newKubeClient(kubeconfig string) (*kubeClient, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &kubeClient{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

func decodeObjects(stream []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// apply applies each object of a YAML stream server-side, in order, and
// returns the objects.
func (k *kubeClient) apply(ctx context.Context, stream []byte) ([]*unstructured.Unstructured, error) {
	objs, err := decodeObjects(stream)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		mapping, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			// A kind whose CRD was just applied: ask the server again.
			k.mapper.Reset()
			mapping, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = k.dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = k.dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "distgen-dev", Force: true}); err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
	return objs, nil
}

// poll calls check every second until it reports done, ctx ends or the
// timeout passes; the error then says what check last reported.
func poll(ctx context.Context, timeout time.Duration, what string, check func() (bool, string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, state := check()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting %s for %s: %s", timeout, what, state)
		case <-time.After(time.Second):
		}
	}
}

func condition(o *unstructured.Unstructured, typ string) (status, message string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			msg, _ := m["message"].(string)
			return s, msg
		}
	}
	return "", ""
}

func (k *kubeClient) waitCRDs(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration) error {
	crd := k.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	return poll(ctx, timeout, "Flux's CRDs to be established", func() (bool, string) {
		for _, o := range objs {
			got, err := crd.Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			if s, _ := condition(got, "Established"); s != "True" {
				return false, o.GetName() + " not established"
			}
		}
		k.mapper.Reset()
		return true, ""
	})
}

func (k *kubeClient) waitDeployments(ctx context.Context, ns string, names []string, timeout time.Duration) error {
	dep := k.dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(ns)
	return poll(ctx, timeout, "Flux's controllers to be available", func() (bool, string) {
		for _, n := range names {
			got, err := dep.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			if s, msg := condition(got, "Available"); s != "True" {
				return false, fmt.Sprintf("deployment %s/%s not available: %s", ns, n, msg)
			}
		}
		return true, ""
	})
}

// waitHelmReleases waits until every release is Ready, or the time is up;
// it returns each one's state either way.
func (k *kubeClient) waitHelmReleases(ctx context.Context, want []DevRelease, timeout time.Duration) ([]DevRelease, error) {
	hr := k.dyn.Resource(schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"})
	out := slices.Clone(want)
	err := poll(ctx, timeout, "the HelmReleases to be Ready", func() (bool, string) {
		var waiting []string
		for i, r := range out {
			got, err := hr.Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				out[i].Ready, out[i].Message = false, err.Error()
			} else {
				s, msg := condition(got, "Ready")
				out[i].Ready, out[i].Message = s == "True", msg
			}
			if !out[i].Ready {
				waiting = append(waiting, fmt.Sprintf("%s/%s (%s)", r.Namespace, r.Name, out[i].Message))
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
	return out, err
}

// fluxCRDs are the CRDs of the Flux controllers at the versions their
// images pin, read from each controller's own module zip through the Go
// module proxy (config/crd/bases), and kept in the user's cache.
func fluxCRDs(ctx context.Context, images map[string]string) ([]byte, error) {
	var out []byte
	for _, c := range flux.Controllers {
		// The controller's own reference (not relocated) names its version.
		tag, err := name.NewTag(images[c])
		if err != nil || tag.TagStr() == "" || tag.TagStr() == "latest" {
			return nil, fmt.Errorf("%s: no version tag in %s", c, images[c])
		}
		version := tag.TagStr()
		b, err := controllerCRDs(ctx, "github.com/fluxcd/"+c, version)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func controllerCRDs(ctx context.Context, mod, version string) ([]byte, error) {
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	cached := filepath.Join(cacheDir, "distgen", "flux-crds", strings.ReplaceAll(mod, "/", "_")+"@"+version+".yaml")
	if b, err := os.ReadFile(cached); err == nil {
		return b, nil
	}
	esc, err := module.EscapePath(mod)
	if err != nil {
		return nil, err
	}
	escv, err := module.EscapeVersion(version)
	if err != nil {
		return nil, err
	}
	url := goProxy() + "/" + esc + "/@v/" + escv + ".zip"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching Flux's CRDs: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching Flux's CRDs: %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	prefix := mod + "@" + version + "/config/crd/bases/"
	var names []string
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, prefix) && path.Ext(f.Name) == ".yaml" {
			names = append(names, f.Name)
			files[f.Name] = f
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s holds no CRDs under config/crd/bases", url)
	}
	slices.Sort(names)
	var out []byte
	for _, n := range names {
		r, err := files[n].Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, "---\n"...)
		out = append(out, b...)
	}
	if os.MkdirAll(filepath.Dir(cached), 0o755) == nil {
		_ = atomicfile.Write(cached, out)
	}
	return out, nil
}

// goProxy is the first proxy of GOPROXY, or the public one.
func goProxy() string {
	for _, p := range strings.FieldsFunc(os.Getenv("GOPROXY"), func(r rune) bool { return r == ',' || r == '|' }) {
		if p != "direct" && p != "off" {
			return strings.TrimSuffix(p, "/")
		}
	}
	return "https://proxy.golang.org"
}
