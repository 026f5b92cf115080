package inventory

import (
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how references to Docker Hub are written once normalized:
// as container runtimes and users name it, not go-containerregistry's
// index.docker.io.
const dockerHub = "docker.io"

// Normalize returns ref as a container runtime resolves it: with its
// registry (docker.io when none is named), its full repository path
// (library/ for a Docker Hub official image), its tag (latest when it has
// neither tag nor digest) and its digest. busybox, busybox:latest and
// docker.io/library/busybox:latest are one image. ok is false for a string
// that is not an image reference.
func Normalize(ref string) (string, bool) {
	if ref == "" || strings.ContainsAny(ref, " \t\n{}$") {
		return "", false
	}
	base, digest, hasDigest := strings.Cut(ref, "@")
	tag := ""
	if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
		base, tag = base[:i], base[i+1:]
	}
	repo, err := name.NewRepository(base, name.WeakValidation)
	if err != nil {
		return "", false
	}
	out := repository(repo)
	if tag != "" {
		if _, err := name.NewTag(out+":"+tag, name.WeakValidation); err != nil {
			return "", false
		}
		out += ":" + tag
	}
	if hasDigest {
		if _, err := name.NewDigest(out+"@"+digest, name.WeakValidation); err != nil {
			return "", false
		}
		return out + "@" + digest, true
	}
	if tag == "" {
		out += ":" + name.DefaultTag
	}
	return out, true
}

func repository(r name.Repository) string {
	reg := r.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = dockerHub
	}
	return reg + "/" + r.RepositoryStr()
}

// Spellings are the ways a normalized repository may be written in a
// manifest: relocation rewrites references by name as written, so each
// spelling of a Docker Hub repository needs its own rule.
func Spellings(repo string) []string {
	rest, ok := strings.CutPrefix(repo, dockerHub+"/")
	if !ok {
		return []string{repo}
	}
	out := []string{repo, rest, name.DefaultRegistry + "/" + rest}
	if short, ok := strings.CutPrefix(rest, "library/"); ok {
		out = append(out, short, dockerHub+"/"+short, name.DefaultRegistry+"/"+short)
	}
	sort.Strings(out)
	return out
}

// split cuts a normalized reference into repository, tag and digest.
func split(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}
