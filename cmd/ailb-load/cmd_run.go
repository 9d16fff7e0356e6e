package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// runOptions are the flags of `run`.
type runOptions struct {
	addr string
	pid  int
	json bool
	load loadFlags
}

func parseRun(args []string, stderr io.Writer) (*runOptions, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &runOptions{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8084", "the outbound ESL server to call (ailb's listen.esl)")
	fs.IntVar(&o.pid, "pid", 0, "the server's process id, for its CPU time per call and peak RSS")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	o.load.register(fs, 1000, 100)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.addr == "" {
		return nil, errors.New("-addr: empty")
	}
	return o, nil
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseRun(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintf(stderr, "ailb-load run: %v\n", err)
		}
		return 2
	}
	s, err := o.load.spec(o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "ailb-load run: %v\n", err)
		return 2
	}
	s.PID = o.pid
	rep, err := runLoad(ctx, s)
	if err != nil {
		fmt.Fprintf(stderr, "ailb-load run: %v\n", err)
		return 1
	}
	if o.json {
		if err := writeJSON(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "ailb-load run: %v\n", err)
			return 1
		}
	} else {
		rep.writeText(stdout)
	}
	if rep.Failures > 0 || rep.Interrupted {
		return 1
	}
	return 0
}
