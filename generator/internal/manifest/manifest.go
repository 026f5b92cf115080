// Package manifest reads rendered manifests: the YAML documents of each
// file, and a document's apiVersion, kind and name without parsing it.
package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Files are the file names of manifests (file → YAML stream), sorted.
func Files(manifests map[string]string) []string {
	names := make([]string, 0, len(manifests))
	for n := range manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Docs splits a YAML stream into its documents; on a read error it returns
// the documents before it with the error.
func Docs(stream string) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, doc)
	}
}

// Header is what the unindented lines of a block-style document say of its
// apiVersion, kind and metadata.name, each empty when not found as a plain
// or quoted scalar.
type Header struct{ APIVersion, Kind, Name string }

// Complete reports whether all three were found.
func (h Header) Complete() bool { return h.APIVersion != "" && h.Kind != "" && h.Name != "" }

// ReadHeader reads a document's Header from its lines, so that a CRD of
// megabytes is not parsed to learn its kind. Only a top-level key starts a
// line at column 0 in block style; a document written otherwise (JSON,
// flow style) yields an empty Header and is to be parsed. The first line of
// each key counts.
func ReadHeader(doc []byte) Header {
	var h Header
	var seenAPI, seenKind, seenName, inMeta bool
	for len(doc) > 0 && !(seenAPI && seenKind && seenName) {
		line := string(doc)
		if i := bytes.IndexByte(doc, '\n'); i >= 0 {
			line, doc = string(doc[:i]), doc[i+1:]
		} else {
			doc = nil
		}
		switch {
		case strings.HasPrefix(line, "apiVersion:"):
			if !seenAPI {
				h.APIVersion, seenAPI = scalar(line[len("apiVersion:"):]), true
			}
			inMeta = false
		case strings.HasPrefix(line, "kind:"):
			if !seenKind {
				h.Kind, seenKind = scalar(line[len("kind:"):]), true
			}
			inMeta = false
		case line == "metadata:" || strings.HasPrefix(line, "metadata: #"):
			inMeta = true
		case inMeta && strings.HasPrefix(line, "  name:"):
			if !seenName {
				h.Name, seenName = scalar(line[len("  name:"):]), true
			}
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inMeta = false
		}
	}
	return h
}

// scalar is a plain or quoted scalar; "" for anything else.
func scalar(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " #{}[]&*!|>%@`") {
		return ""
	}
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// Parse returns a document's Header: read from its lines when they name all
// three, parsed as YAML otherwise (JSON, flow style, a missing field).
func Parse(doc []byte) (Header, error) {
	if h := ReadHeader(doc); h.Complete() {
		return h, nil
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return Header{}, err
	}
	return Header{APIVersion: tm.APIVersion, Kind: tm.Kind, Name: tm.Metadata.Name}, nil
}

// Blank reports whether a document holds no value: whitespace and comments.
func Blank(doc []byte) bool {
	var v any
	return yaml.Unmarshal(doc, &v) == nil && v == nil
}
