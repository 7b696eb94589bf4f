package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodeheartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	"sigs.k8s.io/kwok/pkg/config"
	kwokcmd "sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

// runKwok is cmd/kwok's main: kwok plays the kubelet for fake nodes.
func runKwok() int {
	// cobra adds pflag.CommandLine to every root command, and in this binary
	// the Kubernetes packages have put their own --version there, which
	// clashes with kwok's. Only kwok runs in this process, so start afresh.
	pflag.CommandLine = pflag.NewFlagSet("kwok", pflag.ExitOnError)

	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}

	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, flagset)
	ctx, err := config.InitFlags(ctx, flagset)
	if err != nil {
		logger.Error("Init config flags", "err", err)
		return 1
	}
	command := kwokcmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		return 1
	}
	return 0
}

// printKwokStages prints the stages kwokctl gives kwok by default (kwok itself
// starts with none): nodes become Ready and keep a lease, pods become Ready,
// complete when their containers would, and are removed once deleted.
func printKwokStages() int {
	stages := []string{
		nodefast.DefaultNodeInit,
		nodeheartbeat.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
	}
	for i, s := range stages {
		stages[i] = strings.TrimSpace(s)
	}
	fmt.Println(strings.Join(stages, "\n---\n"))
	return 0
}
