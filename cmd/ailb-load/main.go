// Command ailb-load drives the FreeSWITCH simulator (esl/fssim) against an
// outbound ESL server and measures call setup latency, outcomes and the
// server's CPU and memory; it also runs two baseline controllers and
// compares ailb with them in one run.
//
//	ailb-load run      -addr 127.0.0.1:8084 -calls 1000 -rate 100 [-hold 0] [-pid N] [-json]
//	ailb-load baseline -kind eslgo|raw -listen 127.0.0.1:9084
//	ailb-load compare  -ailb bin/ailb -config configs/load.yaml [-calls 2000 -rate 200] [-hold 5000] [-rounds 3]
//
// Setup latency is the time from the switch writing the connect reply
// to the first bridge (or audio stream start) command it receives. Calls
// are placed open loop: a slow server does not slow the arrivals. The
// simulator runs in this process, so every report says how much CPU it
// and other processes took, and when it fell behind its schedule.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runCmd(ctx, args, stdout, stderr)
	case "baseline":
		return baselineCmd(ctx, args, stderr)
	case "compare":
		return compareCmd(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "ailb-load: unknown command %q\n\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: ailb-load <command> [flags]   (ailb-load <command> -h for the flags)

commands:
  run       place calls against a running server and report setup latency, outcomes, CPU and memory
            -addr 127.0.0.1:8084 -calls 1000 -rate 100 [-hold 0] [-talk 2s] [-target 'sub=outcome' ...]
            [-var ailb_route=sales ...] [-scale 1] [-pid N] [-json]
  baseline  serve calls with a comparison controller: -kind eslgo|raw -listen ADDR -endpoint DIALSTRING
  compare   start ailb and both baselines and measure them with the same load, interleaved
            -ailb bin/ailb -config configs/load.yaml [-calls 2000 -rate 200] [-hold 5000] [-rounds 3]
`)
}
