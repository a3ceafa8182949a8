package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/scheduler"
)

func runScheduler(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o scheduler.Options
	var kubeconfig, logLevel string
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the api-server to run against (required)")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "schedule only while holding the lease kube-system/kube-scheduler")
	fs.StringVar(&o.Identity, "identity", "", "name of this process in the lease (default HOSTNAME_RANDOM)")
	fs.StringVar(&o.SchedulerName, "scheduler-name", scheduler.DefaultSchedulerName, "schedule the pods whose spec.schedulerName is this")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if kubeconfig == "" {
		return errors.New("scheduler: --kubeconfig is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	o.Kubeconfig, o.Logger = cfg, log
	s, err := scheduler.New(o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
