// Command kubevmm-cluster is a multi-call binary in the style of hyperkube and
// k3s: the upstream Kubernetes components share most of their packages, so
// linking them into one executable compiles and links those packages once,
// which is what keeps a cold build within CI's time budget.
//
// The component is chosen by the name the binary was invoked as (so a symlink
// named kubectl behaves as kubectl) or else by the first argument:
//
//	kubevmm-cluster apiserver|controller-manager|scheduler|etcd|kubectl|kwok|kubelet|kube-proxy [flags]
//	kubevmm-cluster certs DIR URL [IP...]          # CA, serving/client certs, kubeconfigs
//	kubevmm-cluster node-certs DIR URL NODE IP     # a real node's kubelet and kube-proxy
//	kubevmm-cluster kwok-stages    # KWOK's default node and pod stages (YAML)
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // CronJob time zones, as in the upstream mains

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// components maps a component name to its entry point, which returns the
// process exit code. Each sees os.Args as if it were its own binary.
var components = map[string]func() int{
	"apiserver":          func() int { return cli.Run(apiserver.NewAPIServerCommand()) },
	"controller-manager": func() int { return cli.Run(controllermanager.NewControllerManagerCommand()) },
	"scheduler":          func() int { return cli.Run(scheduler.NewSchedulerCommand()) },
	"kubelet":            func() int { return cli.Run(kubelet.NewKubeletCommand(context.Background())) },
	"kube-proxy":         func() int { return cli.Run(proxy.NewProxyCommand()) },
	"kubectl":            runKubectl,
	"etcd":               runEtcd,
	"kwok":               runKwok,
	"kwok-stages":        printKwokStages,
	"certs":              runCerts,
	"node-certs":         runNodeCerts,
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := components[name]; !ok {
		if len(os.Args) < 2 {
			usage()
		}
		name = os.Args[1]
		os.Args = os.Args[1:]
	}
	run, ok := components[name]
	if !ok {
		usage()
	}
	// Upstream commands read os.Args themselves (cobra, kubectl plugins), so
	// make argv[0] the component's own name.
	os.Args[0] = name
	os.Exit(run())
}

func runKubectl() int {
	// Same as cmd/kubectl: verbosity must be known before flag parsing so
	// that command construction (.kuberc, plugins) can log.
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) //nolint:errcheck
	if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
		kubectlutil.CheckErr(err)
	}
	return 0
}

func usage() {
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: kubevmm-cluster COMPONENT [args]\ncomponents: %v\n", names)
	os.Exit(2)
}
