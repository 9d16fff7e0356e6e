package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// compareOptions are the flags of `compare`.
type compareOptions struct {
	ailb     string
	config   string
	endpoint string
	rounds   int
	warmup   int
	settle   time.Duration
	redo     int
	json     bool
	redis    bool
	load     loadFlags
}

func parseCompare(args []string, stderr io.Writer) (*compareOptions, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &compareOptions{}
	fs.StringVar(&o.ailb, "ailb", "bin/ailb", "the ailb binary (go build -o bin/ailb ./cmd/ailb); compare builds nothing")
	fs.StringVar(&o.config, "config", "configs/load.yaml", "ailb configuration; a temporary copy gets free ports")
	fs.StringVar(&o.endpoint, "endpoint", "sofia/internal/ai@127.0.0.1", "what the baselines bridge every call to")
	fs.IntVar(&o.rounds, "rounds", 3, "measurements per controller, interleaved: ailb, eslgo, raw, ailb, ...")
	fs.IntVar(&o.warmup, "warmup", 200, "unmeasured calls per controller before the first round")
	fs.DurationVar(&o.settle, "settle", time.Minute, "before each measurement, wait up to this long for the controllers and the machine to be idle")
	fs.IntVar(&o.redo, "redo-noisy", 2, "measure a round again, up to this many times, when other processes used more than 0.2 cores during it")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	fs.BoolVar(&o.redis, "redis", false, "also measure ailb with its state in Redis (starts redis-server on a free port), side by side with the in-memory store")
	o.load.register(fs, 2000, 200)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.rounds < 1 {
		return nil, fmt.Errorf("-rounds %d: must be at least 1", o.rounds)
	}
	if o.warmup < 0 {
		return nil, fmt.Errorf("-warmup %d: must be 0 or more", o.warmup)
	}
	if o.redo < 0 {
		return nil, fmt.Errorf("-redo-noisy %d: must be 0 or more", o.redo)
	}
	return o, nil
}

func compareCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseCompare(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintf(stderr, "ailb-load compare: %v\n", err)
		}
		return 2
	}
	base, err := o.load.spec("")
	if err != nil {
		fmt.Fprintf(stderr, "ailb-load compare: %v\n", err)
		return 2
	}
	res, err := compare(ctx, o, base, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ailb-load compare: %v\n", err)
		return 1
	}
	res.Command = commandLine(os.Args)
	if o.json {
		err = writeJSON(stdout, res)
	} else {
		res.writeText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ailb-load compare: %v\n", err)
		return 1
	}
	if a := res.byName("ailb"); a != nil && a.Failures > 0 {
		return 1
	}
	return 0
}

// compare starts the three controllers, measures them round after round
// and stops them, whatever happens.
func compare(ctx context.Context, o *compareOptions, base spec, stderr io.Writer) (res *comparison, err error) {
	if _, err := os.Stat(o.ailb); err != nil {
		return nil, fmt.Errorf("-ailb: %w (build it first: go build -o bin/ailb ./cmd/ailb)", err)
	}
	cfg, err := os.ReadFile(o.config)
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program for the baselines: %w", err)
	}
	dir, err := os.MkdirTemp("", "ailb-load-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n(the controllers' output is in %s)", err, dir)
			return
		}
		os.RemoveAll(dir)
	}()
	var addrs [9]string // ailb esl/http/media, eslgo, raw, ailb-redis esl/http/media, redis
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
	}
	ailbSpec, err := ailbChild("ailb", o.ailb, cfg, dir, addrs[0], addrs[1], addrs[2], "")
	if err != nil {
		return nil, fmt.Errorf("-config %s: %w", o.config, err)
	}

	var children []*child
	defer func() {
		for _, c := range slices.Backward(children) {
			c.stop(5 * time.Second)
		}
	}()
	specs := []childSpec{
		ailbSpec,
		{name: "eslgo", addr: addrs[3], argv: []string{self, "baseline", "-kind", "eslgo", "-listen", addrs[3], "-endpoint", o.endpoint}, probe: tcpProbe(addrs[3])},
		{name: "raw", addr: addrs[4], argv: []string{self, "baseline", "-kind", "raw", "-listen", addrs[4], "-endpoint", o.endpoint}, probe: tcpProbe(addrs[4])},
	}
	if o.redis {
		// redis-server is not a measured controller: it is kept out of
		// children so that its connections do not look like a busy one.
		rs, err := startChild("redis-server", addrs[8], dir, "redis-server", "--bind", "127.0.0.1",
			"--port", portOf(addrs[8]), "--save", "", "--appendonly", "no")
		if err != nil {
			return nil, fmt.Errorf("-redis needs redis-server on PATH: %w", err)
		}
		defer rs.stop(5 * time.Second)
		if err := rs.waitReady(ctx, tcpProbe(addrs[8]), 10*time.Second); err != nil {
			return nil, err
		}
		spec, err := ailbChild("ailb-redis", o.ailb, cfg, dir, addrs[5], addrs[6], addrs[7], addrs[8])
		if err != nil {
			return nil, fmt.Errorf("-config %s: %w", o.config, err)
		}
		specs = append(specs, spec)
	}
	for _, s := range specs {
		c, err := startChild(s.name, s.addr, dir, s.argv...)
		if err != nil {
			return nil, err
		}
		c.metrics = s.metrics
		children = append(children, c)
		if err := c.waitReady(ctx, s.probe, 15*time.Second); err != nil {
			return nil, err
		}
	}

	res = newComparison(o, base, children)
	if o.warmup > 0 {
		for _, c := range children {
			s := base
			s.Addr, s.Calls, s.Hold = c.addr, o.warmup, 0
			settle(ctx, children, o.settle)
			fmt.Fprintf(stderr, "warming up %s: %d calls\n", c.name, o.warmup)
			rep, err := runLoad(ctx, s)
			if err != nil {
				return nil, fmt.Errorf("warm-up of %s: %w", c.name, err)
			}
			if rep.Interrupted {
				return nil, errors.New("interrupted")
			}
			// Dropped callers are an outcome (a baseline has no fallback
			// under a failure mix); errors mean the controller is broken.
			if n := rep.counts[outError]; n > 0 {
				return nil, fmt.Errorf("warm-up of %s: %d of %d calls ended in errors; failures: %s", c.name, n, rep.Launched, strings.Join(rep.FailureList, "; "))
			}
		}
	}
	for round := range o.rounds {
		for i, c := range children {
			s := base
			s.Addr, s.PID = c.addr, c.pid()
			s.Metrics = c.metrics
			for attempt := 0; ; attempt++ {
				if w := settle(ctx, children, o.settle); w != "" {
					res.Notes = append(res.Notes, fmt.Sprintf("round %d, %s: %s", round+1, c.name, w))
				}
				if ctx.Err() != nil {
					return nil, errors.New("interrupted")
				}
				fmt.Fprintf(stderr, "round %d/%d: %s\n", round+1, o.rounds, c.name)
				rep, err := runLoad(ctx, s)
				if err != nil {
					return nil, fmt.Errorf("round %d, %s: %w", round+1, c.name, err)
				}
				if rep.Interrupted {
					return nil, errors.New("interrupted")
				}
				if c.exited() {
					return nil, fmt.Errorf("round %d: %s exited (%v); its output:\n%s", round+1, c.name, c.err, c.logTail())
				}
				if other := rep.Others; other != nil && other.Cores > noisyCores && attempt < o.redo {
					res.Notes = append(res.Notes, fmt.Sprintf("round %d, %s measured again: other processes used %.2f cores", round+1, c.name, other.Cores))
					continue
				}
				res.Controllers[i].add(rep)
				break
			}
		}
	}
	res.finish()
	return res, nil
}

// childSpec is a controller to start.
type childSpec struct {
	name, addr string
	argv       []string
	probe      func(context.Context) error
	metrics    string // its /metrics URL ("": none)
}

// ailbChild writes cfg to dir with the given listen addresses, and Redis
// at redisAddr unless "", and describes the ailb that serves it.
func ailbChild(name, bin string, cfg []byte, dir, esl, http, media, redisAddr string) (childSpec, error) {
	out, httpOn, err := rewriteListen(cfg, esl, http, media)
	if err == nil && redisAddr != "" {
		out, err = withRedis(out, redisAddr)
	}
	if err != nil {
		return childSpec{}, err
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return childSpec{}, err
	}
	s := childSpec{name: name, addr: esl, argv: []string{bin, "serve", "-config", path}, probe: tcpProbe(esl)}
	if httpOn {
		s.probe, s.metrics = readyzProbe(http), "http://"+http+"/metrics"
	}
	return s, nil
}

// settle waits until every controller has closed the previous run's calls
// (its descriptors are back to idle) and the machine is quiet, so that
// neither a controller's teardown nor another program competes for CPU
// with the next measurement. It returns a note when that did not happen
// within limit.
func settle(ctx context.Context, children []*child, limit time.Duration) string {
	const every = 250 * time.Millisecond
	deadline := time.Now().Add(limit)
	prevBusy, _ := machineBusy()
	tick := time.NewTicker(every)
	defer tick.Stop()
	quietTicks := 0
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
		var busy []string
		for _, c := range children {
			if c.metrics != "" {
				// ailb says how many calls it serves; its Redis pool
				// would make descriptors look busy.
				if n, err := callsInProgress(ctx, c.metrics); err == nil && n > 0 {
					busy = append(busy, fmt.Sprintf("%s serves %g calls", c.name, n))
				}
				continue
			}
			if n, _ := openFDs(c.pid()); n > c.idle+2 {
				busy = append(busy, fmt.Sprintf("%s has %d descriptors open (idle: %d)", c.name, n, c.idle))
			}
		}
		b, _ := machineBusy()
		// /proc/stat counts 10ms ticks per CPU: allow a few for noise.
		if used := b - prevBusy; used > time.Duration(float64(every)*noisyCores) {
			busy = append(busy, fmt.Sprintf("the machine used %.2f cores", used.Seconds()/every.Seconds()))
		}
		prevBusy = b
		if len(busy) == 0 {
			if quietTicks++; quietTicks >= 2 {
				return ""
			}
			continue
		}
		quietTicks = 0
		if time.Now().After(deadline) {
			return fmt.Sprintf("not idle after %v: %s", limit, strings.Join(busy, "; "))
		}
	}
}

// commandLine is args as a shell would need them, the program named by
// its base name (go run builds it in a temporary directory).
func commandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if i == 0 {
			a = filepath.Base(a)
		}
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
