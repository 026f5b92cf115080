package action

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/encoding/json"
	"cuelang.org/go/encoding/jsonschema"
)

// The JSON Schema distgen exports says what the CUE schema says: read
// back with CUE's JSON Schema decoder, it takes a versions document the
// schema takes and refuses one the schema refuses, field for field.
func TestJSONSchemaRoundTrip(t *testing.T) {
	out, err := (&Schema{Defs: []string{"#Versions"}, JSONSchema: true}).Run()
	if err != nil {
		t.Fatal(err)
	}
	ctx := cuecontext.New()
	expr, err := json.Extract("versions.schema.json", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	f, err := jsonschema.Extract(ctx.BuildExpr(expr), &jsonschema.Config{})
	if err != nil {
		t.Fatal(err)
	}
	schema := ctx.BuildFile(f)
	if schema.Err() != nil {
		t.Fatal(schema.Err())
	}
	check := func(doc string) error {
		e, err := json.Extract("doc.json", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return schema.Unify(ctx.BuildExpr(e)).Validate(cue.Concrete(true))
	}
	good := `{"distribution": "1.2.3", "releaseDate": "2026-01-02T03:04:05Z", "images": {}, "apps": {"hello": "0.1.0"}, "components": {"a": {"chart": "1.0.0", "upstream": {}}}}`
	if err := check(good); err != nil {
		t.Errorf("a good versions document: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, `"1.2.3"`, `"v1.2"`, 1),                 // not SemVer
		strings.Replace(good, `"2026-01-02T03:04:05Z"`, `"today"`, 1), // not a timestamp
		strings.Replace(good, `"images": {}`, `"imagez": {}`, 1),      // no such field
	} {
		if err := check(bad); err == nil {
			t.Errorf("taken: %s", bad)
		}
	}
	if _, err := (&Schema{Defs: []string{"#NoSuch"}}).Run(); err == nil || !strings.Contains(err.Error(), "#Versions") {
		t.Errorf("an unknown definition: %v", err)
	}
	text, err := (&Schema{Defs: []string{"Versions"}}).Run()
	if err != nil || !strings.HasPrefix(text, "// #Versions pins every version") {
		t.Errorf("#Versions as written: %v\n%s", err, text)
	}
}
