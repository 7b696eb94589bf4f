package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// keyPair is a certificate with its key, as written to DIR/NAME.crt and .key.
type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// clientIdentities are the users the components authenticate as. The
// controller-manager and scheduler use their own names so that the default
// RBAC bindings apply to them as in a real cluster.
var clientIdentities = []struct{ name, cn, org string }{
	{"admin", "kubernetes-admin", "system:masters"},
	{"controller-manager", "system:kube-controller-manager", ""},
	{"scheduler", "system:kube-scheduler", ""},
	{"kwok", "kwok", "system:masters"},
}

// runCerts writes the cluster's PKI and kubeconfigs into DIR:
// `kubevmm-cluster certs DIR https://127.0.0.1:PORT [IP...]`, where the IPs are
// further addresses the apiserver serves on (the real node reaches it over a
// veth). It is done in Go rather than with openssl so CI needs no extra tool
// and the output is the same everywhere. Existing files are kept, so a restart
// reuses the same CA.
func runCerts() int {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: certs DIR SERVER_URL [EXTRA_SERVING_IP...]")
		return 2
	}
	var ips []net.IP
	for _, arg := range os.Args[3:] {
		ip := net.ParseIP(arg)
		if ip == nil {
			fmt.Fprintf(os.Stderr, "certs: %q is not an IP address\n", arg)
			return 2
		}
		ips = append(ips, ip)
	}
	if err := writePKI(os.Args[1], os.Args[2], ips); err != nil {
		fmt.Fprintf(os.Stderr, "certs: %v\n", err)
		return 1
	}
	return 0
}

func writePKI(dir, server string, extraIPs []net.IP) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := newCert(certSpec{cn: "kubevmm-ca", isCA: true})
	if err != nil {
		return err
	}
	frontProxyCA, err := newCert(certSpec{cn: "kubevmm-front-proxy-ca", isCA: true})
	if err != nil {
		return err
	}
	serving, err := newCert(certSpec{
		cn: "kube-apiserver", parent: ca, server: true,
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips: append([]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")}, extraIPs...),
	})
	if err != nil {
		return err
	}
	frontProxyClient, err := newCert(certSpec{cn: "front-proxy-client", parent: frontProxyCA})
	if err != nil {
		return err
	}
	// The apiserver's identity towards kubelets (logs, exec, port-forward).
	kubeletClient, err := newCert(certSpec{cn: "kube-apiserver-kubelet-client", org: "system:masters", parent: ca})
	if err != nil {
		return err
	}
	for name, kp := range map[string]keyPair{"ca": ca, "front-proxy-ca": frontProxyCA, "apiserver": serving, "front-proxy-client": frontProxyClient, "apiserver-kubelet-client": kubeletClient} {
		if err := writeKeyPair(dir, name, kp); err != nil {
			return err
		}
	}
	if err := writeServiceAccountKey(dir); err != nil {
		return err
	}
	for _, id := range clientIdentities {
		client, err := newCert(certSpec{cn: id.cn, org: id.org, parent: ca})
		if err != nil {
			return err
		}
		if err := writeKubeconfig(filepath.Join(dir, id.name+".kubeconfig"), server, ca, client); err != nil {
			return err
		}
	}
	return nil
}

type certSpec struct {
	cn, org string
	parent  keyPair // zero: self-signed
	isCA    bool
	server  bool
	dns     []string
	ips     []net.IP
}

func newCert(s certSpec) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.cn},
		// Back-dated so small clock differences never make it "not yet valid".
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		DNSNames:    s.dns,
		IPAddresses: s.ips,
	}
	if s.org != "" {
		tmpl.Subject.Organization = []string{s.org}
	}
	switch {
	case s.isCA:
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	case s.server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	parentCert, parentKey := tmpl, crypto.Signer(key)
	if s.parent.cert != nil {
		parentCert, parentKey = s.parent.cert, s.parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		return keyPair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	return keyPair{cert: cert, key: key}, err
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writeKeyPair(dir, name string, kp keyPair) error {
	key, err := keyPEM(kp.key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), certPEM(kp.cert), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".key"), key, 0o600)
}

// writeServiceAccountKey writes the key the apiserver signs service account
// tokens with (sa.key) and verifies them with (sa.pub).
func writeServiceAccountKey(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	priv, err := keyPEM(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

func writeKubeconfig(path, server string, ca, client keyPair) error {
	key, err := keyPEM(client.key)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubevmm"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: certPEM(ca.cert)}
	cfg.AuthInfos["kubevmm"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM(client.cert), ClientKeyData: key}
	cfg.Contexts["kubevmm"] = &clientcmdapi.Context{Cluster: "kubevmm", AuthInfo: "kubevmm", Namespace: "default"}
	cfg.CurrentContext = "kubevmm"
	return clientcmd.WriteToFile(*cfg, path)
}
