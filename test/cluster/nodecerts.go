package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// runNodeCerts writes what a real node needs, signed by the cluster CA that
// `certs` made in DIR: `kubevmm-cluster node-certs DIR SERVER_URL NODE IP`.
//
//	node-NODE.kubeconfig        the kubelet (CN=system:node:NODE, O=system:nodes),
//	                            so the Node authorizer and NodeRestriction apply
//	node-NODE-serving.crt/.key  the kubelet's serving certificate for IP, which
//	                            the apiserver verifies (--kubelet-certificate-authority)
//	kube-proxy.kubeconfig       CN=system:kube-proxy, bound to system:node-proxier
//	                            by the default RBAC policy
//
// Existing files are kept, like `certs`.
func runNodeCerts() int {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: node-certs DIR SERVER_URL NODE IP")
		return 2
	}
	dir, server, node := os.Args[1], os.Args[2], os.Args[3]
	ip := net.ParseIP(os.Args[4])
	if ip == nil {
		fmt.Fprintf(os.Stderr, "node-certs: %q is not an IP address\n", os.Args[4])
		return 2
	}
	if err := writeNodePKI(dir, server, node, ip); err != nil {
		fmt.Fprintf(os.Stderr, "node-certs: %v\n", err)
		return 1
	}
	return 0
}

func writeNodePKI(dir, server, node string, ip net.IP) error {
	kubeconfig := filepath.Join(dir, "node-"+node+".kubeconfig")
	if _, err := os.Stat(kubeconfig); err == nil {
		return nil
	}
	ca, err := readKeyPair(dir, "ca")
	if err != nil {
		return fmt.Errorf("the cluster CA (run certs first): %w", err)
	}
	kubelet, err := newCert(certSpec{cn: "system:node:" + node, org: "system:nodes", parent: ca})
	if err != nil {
		return err
	}
	serving, err := newCert(certSpec{cn: "system:node:" + node, parent: ca, server: true, dns: []string{node}, ips: []net.IP{ip}})
	if err != nil {
		return err
	}
	proxy, err := newCert(certSpec{cn: "system:kube-proxy", parent: ca})
	if err != nil {
		return err
	}
	if err := writeKeyPair(dir, "node-"+node+"-serving", serving); err != nil {
		return err
	}
	if err := writeKubeconfig(filepath.Join(dir, "kube-proxy.kubeconfig"), server, ca, proxy); err != nil {
		return err
	}
	// Last: its presence means the set is complete.
	return writeKubeconfig(kubeconfig, server, ca, kubelet)
}

// readKeyPair loads DIR/NAME.crt and DIR/NAME.key as writeKeyPair wrote them.
func readKeyPair(dir, name string) (keyPair, error) {
	certBytes, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return keyPair{}, err
	}
	keyBytes, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return keyPair{}, err
	}
	certBlock, _ := pem.Decode(certBytes)
	keyBlock, _ := pem.Decode(keyBytes)
	if certBlock == nil || keyBlock == nil {
		return keyPair{}, errors.New(name + ": not PEM")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return keyPair{}, err
	}
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		return keyPair{}, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return keyPair{}, errors.New(name + ": key cannot sign")
	}
	return keyPair{cert: cert, key: signer}, nil
}
