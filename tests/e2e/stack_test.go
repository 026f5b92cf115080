//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// stack is the running cluster side.
type stack struct {
	bin      string // cached binaries and CRDs
	dir      string // PKI, data, logs
	registry string // HOST:PORT of the OCI registry
	procs    []*proc
	config   *rest.Config
	client   dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

// freePort returns a loopback port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ports(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func (s *stack) start(name string, env []string, bin string, args ...string) error {
	log, err := os.Create(filepath.Join(s.dir, "logs", name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	s.procs = append(s.procs, &proc{name: name, cmd: cmd, log: log})
	return nil
}

// stop ends every process it started, last started first.
func (s *stack) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].end()
	}
	s.procs = nil
}

// stopOne ends the process called name (a test taking a registry away).
func (s *stack) stopOne(name string) error {
	for i, p := range s.procs {
		if p.name == name {
			p.end()
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("no process %q", name)
}

// end stops a process and its children, politely first.
func (p *proc) end() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.log.Close()
}

// waitHTTP polls url until it answers 200 or the timeout passes.
func waitHTTP(client *http.Client, url string, timeout time.Duration, header http.Header) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %v", url, timeout, last)
}

// stackOptions change how a stack runs.
type stackOptions struct {
	// helmArgs and kustomizeArgs are extra controller flags.
	helmArgs, kustomizeArgs []string
	// crds are files of CRDs applied before the controllers start.
	crds []string
}

// startStack brings the cluster side up.
func startStack(bin string, o stackOptions) (*stack, error) {
	dir, err := os.MkdirTemp("", "distgen-e2e-")
	if err != nil {
		return nil, err
	}
	s := &stack{bin: bin, dir: dir}
	for _, d := range []string{"logs", "etcd", "registry", "storage"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return s, err
		}
	}
	p, err := ports(11)
	if err != nil {
		return s, err
	}
	etcdClient, etcdPeer, reg, kas := p[0], p[1], p[2], p[3]
	s.registry = fmt.Sprintf("127.0.0.1:%d", reg)

	// OCI registry: distribution from Debian, filesystem storage.
	regCfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(regCfg, fmt.Appendf(nil, "version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: %s}\n",
		filepath.Join(dir, "registry"), s.registry), 0o644); err != nil {
		return s, err
	}
	if err := s.start("registry", nil, "docker-registry", "serve", regCfg); err != nil {
		return s, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	if err := s.start("etcd", nil, "etcd", "--name", "e2e", "--data-dir", filepath.Join(dir, "etcd"), "--unsafe-no-fsync",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "e2e="+peerURL); err != nil {
		return s, err
	}
	if err := waitHTTP(http.DefaultClient, etcdURL+"/health", 30*time.Second, nil); err != nil {
		return s, err
	}

	pki, err := newPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return s, err
	}
	if err := s.start("kube-apiserver", nil, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", kas), "--tls-cert-file="+pki.cert, "--tls-private-key-file="+pki.key,
		"--token-auth-file="+pki.tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub, "--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range=10.0.0.0/24", "--endpoint-reconciler-type=none",
		// As real clusters do: privileged components (CNI, storage, log shippers) need it.
		"--allow-privileged=true"); err != nil {
		return s, err
	}
	host := fmt.Sprintf("https://127.0.0.1:%d", kas)
	s.config = &rest.Config{Host: host, BearerToken: adminToken, TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM}, QPS: 50, Burst: 100}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := waitHTTP(tlsClient, host+"/readyz", 90*time.Second, http.Header{"Authorization": {"Bearer " + adminToken}}); err != nil {
		return s, err
	}
	if err := waitHTTP(http.DefaultClient, "http://"+s.registry+"/v2/", 20*time.Second, nil); err != nil {
		return s, err
	}
	if s.client, err = dynamic.NewForConfig(s.config); err != nil {
		return s, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(s.config)
	if err != nil {
		return s, err
	}
	s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	// Flux: CRDs, namespace, controllers.
	ctx := context.Background()
	crds, _ := filepath.Glob(filepath.Join(bin, "crds", "*.yaml"))
	for _, f := range append(crds, o.crds...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return s, err
		}
		if err := s.apply(ctx, b); err != nil {
			return s, fmt.Errorf("applying %s: %w", filepath.Base(f), err)
		}
	}
	if err := s.waitCRDs(ctx, 60*time.Second); err != nil {
		return s, err
	}
	if err := s.apply(ctx, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n")); err != nil {
		return s, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: admin, user: {token: %s}}]
contexts: [{name: e2e, context: {cluster: e2e, user: admin}}]
current-context: e2e
`, host, pki.ca, adminToken), 0o600); err != nil {
		return s, err
	}
	env := []string{"KUBECONFIG=" + kubeconfig, "RUNTIME_NAMESPACE=flux-system"}
	common := []string{"--watch-all-namespaces=true", "--enable-leader-election=false", "--log-encoding=console", "--events-addr="}
	storage := fmt.Sprintf("127.0.0.1:%d", p[4])
	type ctl struct {
		name   string
		extra  []string
		health int
	}
	for i, c := range []ctl{
		{"source-controller", []string{"--storage-path=" + filepath.Join(dir, "storage"), "--storage-addr=" + storage, "--storage-adv-addr=" + storage}, p[5]},
		{"helm-controller", append([]string{"--requeue-dependency=2s"}, o.helmArgs...), p[6]},
		{"kustomize-controller", append([]string{"--requeue-dependency=2s"}, o.kustomizeArgs...), p[7]},
	} {
		args := append(append([]string{}, common...), c.extra...)
		args = append(args, fmt.Sprintf("--metrics-addr=127.0.0.1:%d", p[8+i]), fmt.Sprintf("--health-addr=127.0.0.1:%d", c.health))
		if err := s.start(c.name, env, filepath.Join(bin, c.name), args...); err != nil {
			return s, err
		}
	}
	for i, name := range []string{"source-controller", "helm-controller", "kustomize-controller"} {
		if err := waitHTTP(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/readyz", p[5+i]), 60*time.Second, nil); err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
	}
	return s, nil
}

// apply server-side applies a YAML stream.
func (s *stack) apply(ctx context.Context, yamlDocs []byte) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(yamlDocs), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		ri, err := s.resource(gvk.GroupKind(), gvk.Version, obj.GetNamespace())
		if err != nil {
			return err
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			return err
		}
		force := true
		if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "distgen-e2e", Force: &force}); err != nil {
			return fmt.Errorf("applying %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
}

// resource is the dynamic client for a kind.
func (s *stack) resource(gk schema.GroupKind, version, namespace string) (dynamic.ResourceInterface, error) {
	m, err := s.mapper.RESTMapping(gk, version)
	if meta.IsNoMatchError(err) {
		s.mapper.Reset()
		m, err = s.mapper.RESTMapping(gk, version)
	}
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return s.client.Resource(m.Resource).Namespace(namespace), nil
	}
	return s.client.Resource(m.Resource), nil
}

// getObj reads an object of the stack, or nil when it does not exist.
func (s *stack) getObj(t *testing.T, gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := s.client.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("%s %s/%s: %v", gvr.Resource, namespace, name, err)
	}
	return obj
}

func (s *stack) waitCRDs(ctx context.Context, timeout time.Duration) error {
	crd := s.client.Resource(crdGVR)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		list, err := crd.List(ctx, metav1.ListOptions{})
		if err == nil {
			ready := 0
			for _, item := range list.Items {
				if condition(&item, "Established") == "True" {
					ready++
				}
			}
			if ready == len(list.Items) && ready > 0 {
				s.mapper.Reset()
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("CRDs not established")
}

// condition returns the status of a condition of an object, or "".
func condition(obj *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

const adminToken = "distgen-e2e-admin-token"

type pkiFiles struct {
	ca, cert, key, saPub, saKey, tokens string
	caPEM                               []byte
}

// newPKI writes a CA, a serving certificate for 127.0.0.1, the service
// account signing keys and a token file with one cluster admin.
func newPKI(dir string) (*pkiFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "distgen-e2e-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost", "kubernetes.default.svc"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	f := &pkiFiles{
		ca: filepath.Join(dir, "ca.crt"), cert: filepath.Join(dir, "apiserver.crt"), key: filepath.Join(dir, "apiserver.key"),
		saPub: filepath.Join(dir, "sa.pub"), saKey: filepath.Join(dir, "sa.key"), tokens: filepath.Join(dir, "tokens.csv"),
	}
	f.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	saKeyDER, _ := x509.MarshalECPrivateKey(saKey)
	saPubDER, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	for path, data := range map[string][]byte{
		f.ca:     f.caPEM,
		f.cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		f.key:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
		f.saKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saKeyDER}),
		f.saPub:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}),
		f.tokens: []byte(adminToken + ",admin,admin,system:masters\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}
