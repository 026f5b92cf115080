// Package validate checks rendered objects offline, as the API server
// would take them: objects of Kubernetes' own kinds against its OpenAPI
// schema (the structured-merge-diff schema client-go carries, which
// server-side apply checks against), custom resources against the
// openAPIV3Schema of the CustomResourceDefinition the release installs
// (the pruning and schema validation the API server runs on create).
package validate

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apivalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/internal/manifest"
)

// Object is one rendered object.
type Object struct {
	// File is the template or CRD file it was rendered from.
	File string
	// Doc is its YAML.
	Doc []byte
	GVK schema.GroupVersionKind
	// Name is metadata.name.
	Name string
}

func (o Object) String() string {
	return fmt.Sprintf("%s: %s %q", o.File, o.GVK.Kind, o.Name)
}

// Error is an object the API server would refuse.
type Error struct {
	Object Object
	// Field is the path of the offending field, empty for the whole object.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Object, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Object, e.Msg)
}

// Split is the outcome of checking a chart's rendered objects against
// Kubernetes' own schema: its CustomResourceDefinitions and custom
// resources, left to Release; and the errors of its other objects.
type Split struct {
	CRDs   []Object
	Custom []Object
	Errs   []error
}

var converter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

// unschematized are kinds the API server serves that client-go's schema
// does not carry: they are known, not checked here.
var unschematized = map[schema.GroupKind]bool{
	{Group: "apiregistration.k8s.io", Kind: "APIService"}: true,
}

// crdKind is the kind of CustomResourceDefinitions.
var crdKind = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// Manifests splits rendered manifests (file → YAML stream) into objects and
// checks those of Kubernetes' own kinds.
func Manifests(manifests map[string]string) Split {
	var out Split
	for _, f := range manifest.Files(manifests) {
		docs, readErr := manifest.Docs(manifests[f])
		for _, doc := range docs {
			obj, err := typeMeta(f, doc)
			if err != nil {
				out.Errs = append(out.Errs, err)
				continue
			}
			if obj == nil {
				continue // an empty document
			}
			gk := obj.GVK.GroupKind()
			switch {
			// What is kept of a document is copied to its size: the
			// reader's buffer it lies in can be twice as large.
			case gk == crdKind:
				obj.Doc = bytes.Clone(obj.Doc)
				out.CRDs = append(out.CRDs, *obj)
			case unschematized[gk]:
			case scheme.Scheme.Recognizes(obj.GVK):
				out.Errs = append(out.Errs, builtin(*obj)...)
			default:
				if isBuiltinGroup(obj.GVK.Group) {
					out.Errs = append(out.Errs, &Error{Object: *obj, Msg: fmt.Sprintf("Kubernetes has no kind %s in %s", obj.GVK.Kind, obj.GVK.GroupVersion())})
					continue
				}
				obj.Doc = bytes.Clone(obj.Doc)
				out.Custom = append(out.Custom, *obj)
			}
		}
		if readErr != nil {
			out.Errs = append(out.Errs, fmt.Errorf("%s: %w", f, readErr))
		}
	}
	return out
}

// isBuiltinGroup reports whether group is one of Kubernetes' own API
// groups: a kind in it that the schema lacks is a typo or a removed API,
// not a custom resource.
func isBuiltinGroup(group string) bool {
	for _, gv := range scheme.Scheme.PrioritizedVersionsAllGroups() {
		if gv.Group == group {
			return true
		}
	}
	return false
}

// typeMeta reads an object's apiVersion, kind and name; nil for an empty
// document.
func typeMeta(file string, doc []byte) (*Object, error) {
	if len(strings.TrimSpace(string(doc))) == 0 {
		return nil, nil
	}
	tm, err := manifest.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if tm.APIVersion == "" && tm.Kind == "" {
		if manifest.Blank(doc) {
			return nil, nil
		}
	}
	o := &Object{File: file, Doc: doc, Name: tm.Name}
	if tm.Kind == "" || tm.APIVersion == "" {
		return nil, &Error{Object: *o, Msg: "an object needs apiVersion and kind"}
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, &Error{Object: *o, Field: "apiVersion", Msg: err.Error()}
	}
	o.GVK = gv.WithKind(tm.Kind)
	return o, nil
}

// builtin checks an object of one of Kubernetes' own kinds.
func builtin(o Object) []error {
	var m map[string]any
	if err := yaml.Unmarshal(o.Doc, &m); err != nil {
		return []error{&Error{Object: o, Msg: err.Error()}}
	}
	_, err := converter().ObjectToTyped(&unstructured.Unstructured{Object: m})
	if err == nil {
		return nil
	}
	var errs []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasSuffix(line, "errors occurred:") {
			continue
		}
		path, msg, ok := strings.Cut(line, ": ")
		if !ok || !strings.HasPrefix(path, ".") {
			errs = append(errs, &Error{Object: o, Msg: line})
			continue
		}
		errs = append(errs, &Error{Object: o, Field: path[1:], Msg: msg})
	}
	return errs
}

// Release is the custom resource kinds a release defines, by the
// component whose chart installs each CRD.
type Release struct {
	kinds map[schema.GroupVersionKind]*version
	// groups are the API groups the release defines kinds in.
	groups map[string]bool
}

type version struct {
	component string
	crd       Object
	served    bool
	name      string
	hasSchema bool
	// schema is built on first use, from the CRD's document parsed again:
	// most CRDs of a release are never instantiated by the release itself,
	// and their parsed schemas would hold many times their size in memory.
	once       sync.Once
	structural *structuralschema.Structural
	validator  apivalidation.SchemaValidator
	err        error
}

// NewRelease returns an empty Release.
func NewRelease() *Release {
	return &Release{kinds: map[schema.GroupVersionKind]*version{}, groups: map[string]bool{}}
}

// CRD is a parsed and checked CustomResourceDefinition: what it defines.
// Its schemas are not kept (see version).
type CRD struct {
	Object   Object
	group    string
	kind     string
	versions []crdVersion
}

type crdVersion struct {
	name              string
	served, hasSchema bool
}

// ParseCRD parses a CRD as the API server would take it: strictly, as
// apiextensions.k8s.io/v1, with a group, a kind and versions. It is the
// costly part of a release's check (CRDs run to megabytes), and safe to run
// in parallel.
func ParseCRD(o Object) (*CRD, []error) {
	c := &CRD{Object: o}
	var crd apiextv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(o.Doc, &crd); err != nil {
		msg := strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: ")
		return nil, []error{&Error{Object: o, Msg: "not a CustomResourceDefinition of apiextensions.k8s.io/v1: " + strings.TrimPrefix(msg, "json: ")}}
	}
	for _, f := range []struct {
		field string
		empty bool
	}{{"spec.group", crd.Spec.Group == ""}, {"spec.names.kind", crd.Spec.Names.Kind == ""}, {"spec.versions", len(crd.Spec.Versions) == 0}} {
		if f.empty {
			return nil, []error{&Error{Object: o, Field: f.field, Msg: "required, and empty (a CustomResourceDefinition's group, kind and versions name what it defines)"}}
		}
	}
	// The API server's own checks of a CRD on create: names, structural
	// schemas, versions, protected groups' approval.
	// It defaults first (singular and list names) and records the storage
	// version, as the API server's create does.
	checked := crd.DeepCopy()
	apiextv1.SetObjectDefaults_CustomResourceDefinition(checked)
	checked.Status = apiextv1.CustomResourceDefinitionStatus{}
	for _, v := range checked.Spec.Versions {
		if v.Storage {
			checked.Status.StoredVersions = append(checked.Status.StoredVersions, v.Name)
		}
	}
	var internal apiextensions.CustomResourceDefinition
	if err := apiextv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(checked, &internal, nil); err != nil {
		return nil, []error{&Error{Object: o, Msg: err.Error()}}
	}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &internal); len(errs) > 0 {
		out := make([]error, len(errs))
		for i, fe := range errs {
			out[i] = &Error{Object: o, Field: fe.Field, Msg: fe.ErrorBody()}
		}
		return nil, out
	}
	c.group, c.kind = crd.Spec.Group, crd.Spec.Names.Kind
	for _, v := range crd.Spec.Versions {
		c.versions = append(c.versions, crdVersion{name: v.Name, served: v.Served, hasSchema: v.Schema != nil && v.Schema.OpenAPIV3Schema != nil})
	}
	return c, nil
}

// CRDRecord is what a parsed and checked CRD keeps, in a form the build
// cache stores, so that a release's check need not render and parse an
// unchanged chart again.
type CRDRecord struct {
	Object   Object
	Group    string
	Kind     string
	Versions []CRDVersionRecord
}

// CRDVersionRecord is one version a CRD defines.
type CRDVersionRecord struct {
	Name              string
	Served, HasSchema bool
}

// Record returns what c keeps.
func (c *CRD) Record() CRDRecord {
	r := CRDRecord{Object: c.Object, Group: c.group, Kind: c.kind}
	for _, v := range c.versions {
		r.Versions = append(r.Versions, CRDVersionRecord{Name: v.name, Served: v.served, HasSchema: v.hasSchema})
	}
	return r
}

// CRD returns the CRD r was recorded from.
func (r CRDRecord) CRD() *CRD {
	c := &CRD{Object: r.Object, group: r.Group, kind: r.Kind}
	for _, v := range r.Versions {
		c.versions = append(c.versions, crdVersion{name: v.Name, served: v.Served, hasSchema: v.HasSchema})
	}
	return c
}

// ParseCRDs parses each of objs with ParseCRD, returning the CRDs and every
// problem.
func ParseCRDs(objs []Object) ([]*CRD, []error) {
	var crds []*CRD
	var errs []error
	for _, o := range objs {
		crd, e := ParseCRD(o)
		if len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		crds = append(crds, crd)
	}
	return crds, errs
}

// AddCRD records the kinds a component's CRD defines.
func (r *Release) AddCRD(component string, c *CRD) error {
	r.groups[c.group] = true
	for _, v := range c.versions {
		gvk := schema.GroupVersionKind{Group: c.group, Version: v.name, Kind: c.kind}
		ver := &version{component: component, crd: c.Object, served: v.served, name: v.name, hasSchema: v.hasSchema}
		if prev, ok := r.kinds[gvk]; ok && prev.component != component {
			return &Error{Object: c.Object, Msg: fmt.Sprintf("%s is defined twice: by component %q too", gvk.GroupKind(), prev.component)}
		}
		r.kinds[gvk] = ver
	}
	return nil
}

func (v *version) build() error {
	v.once.Do(func() {
		if !v.hasSchema {
			return
		}
		var crd apiextv1.CustomResourceDefinition
		if v.err = yaml.Unmarshal(v.crd.Doc, &crd); v.err != nil {
			return
		}
		var raw *apiextv1.JSONSchemaProps
		for _, cv := range crd.Spec.Versions {
			if cv.Name == v.name && cv.Schema != nil {
				raw = cv.Schema.OpenAPIV3Schema
			}
		}
		if raw == nil {
			return
		}
		var internal apiextensions.JSONSchemaProps
		if v.err = apiextv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(raw, &internal, nil); v.err != nil {
			return
		}
		if v.structural, v.err = structuralschema.NewStructural(&internal); v.err != nil {
			return
		}
		v.validator, _, v.err = apivalidation.NewSchemaValidator(&internal)
	})
	return v.err
}

// Check checks a custom resource of component, whose chart is installed
// after those of deps (every component it depends on, directly or not),
// against the release's CRDs. external reports kinds the bundle declares
// to come from outside the release. Its errors are *Error.
func (r *Release) Check(component string, deps map[string]bool, o Object, external func(schema.GroupVersionKind) bool) []error {
	v, ok := r.kinds[o.GVK]
	if !ok {
		if external(o.GVK) {
			return nil
		}
		msg := fmt.Sprintf("no CRD in the release defines %s, and Kubernetes has no such kind; declare where it comes from in the bundle's externalAPIs", o.GVK.GroupVersion().String()+" "+o.GVK.Kind)
		if r.groups[o.GVK.Group] {
			msg = fmt.Sprintf("the release's CRDs define no %s in %s", o.GVK.Kind, o.GVK.GroupVersion())
		}
		return []error{&Error{Object: o, Msg: msg}}
	}
	if v.component != component && !deps[v.component] {
		return []error{&Error{Object: o, Msg: fmt.Sprintf("%s is defined by component %q (%s), which %q does not depend on: Flux may install it first", o.GVK.Kind, v.component, v.crd.File, component)}}
	}
	if !v.served {
		return []error{&Error{Object: o, Field: "apiVersion", Msg: fmt.Sprintf("version %s of %s is not served", o.GVK.Version, o.GVK.GroupKind())}}
	}
	if err := v.build(); err != nil {
		return []error{&Error{Object: v.crd, Msg: "schema: " + err.Error()}}
	}
	if v.structural == nil {
		return nil // no schema: anything goes
	}
	var m map[string]any
	if err := yaml.Unmarshal(o.Doc, &m); err != nil {
		return []error{&Error{Object: o, Msg: err.Error()}}
	}
	var errs []error
	unknown := pruning.PruneWithOptions(m, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range unknown {
		errs = append(errs, &Error{Object: o, Field: p, Msg: "field not declared in schema"})
	}
	for _, fe := range apivalidation.ValidateCustomResource(nil, m, v.validator) {
		errs = append(errs, &Error{Object: o, Field: fe.Field, Msg: fe.ErrorBody()})
	}
	return errs
}
