// Command tlsregistry is the registry make e2e-kind runs as "a registry the
// user names": go-containerregistry's in-memory registry, served over TLS
// with a certificate of a CA made for the test, so that dev up's default,
// verified TLS is what the cluster and distgen talk to it with.
//
//	tlsregistry -gen DIR -hosts NAME,IP…   # DIR/ca.crt, DIR/tls.crt, DIR/tls.key
//	tlsregistry -addr :5000 -cert DIR/tls.crt -key DIR/tls.key
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	gen := flag.String("gen", "", "write a CA and a server certificate for -hosts into this directory, and exit")
	hosts := flag.String("hosts", "", "the server certificate's names and IP addresses, comma-separated")
	addr := flag.String("addr", ":5000", "the address to serve on")
	cert := flag.String("cert", "", "the server certificate (PEM)")
	key := flag.String("key", "", "the server certificate's key (PEM)")
	flag.Parse()
	if *gen != "" {
		if err := generate(*gen, strings.Split(*hosts, ",")); err != nil {
			fmt.Fprintln(os.Stderr, "tlsregistry:", err)
			os.Exit(1)
		}
		return
	}
	// The registry logs each request ("GET /v2/…") to stderr.
	srv := &http.Server{Addr: *addr, Handler: registry.New(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}

// generate writes ca.crt, and tls.crt and tls.key signed by it for hosts.
func generate(dir string, hosts []string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "distgen e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for file, block := range map[string]*pem.Block{
		"ca.crt":  {Type: "CERTIFICATE", Bytes: caDER},
		"tls.crt": {Type: "CERTIFICATE", Bytes: leafDER},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o644); err != nil {
			return err
		}
	}
	return nil
}
