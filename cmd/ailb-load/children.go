package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// child is a controller under test running as a child process.
type child struct {
	name string
	addr string // where the switch connects
	cmd  *exec.Cmd
	log  string        // its stdout and stderr
	done chan struct{} // closed once it exited
	err  error         // its exit status, once done
	idle int           // open descriptors when it had no call
	// metrics is ailb's /metrics URL ("" for the baselines).
	metrics string
}

// startChild runs argv with its output in dir/<name>.log. It is put in a
// process group of its own so that Ctrl-C reaches this process only, which
// stops the children in order; Pdeathsig kills it if this process dies
// without doing so.
func startChild(name, addr, dir string, argv ...string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	c := &child{name: name, addr: addr, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL if the child is still there after
// grace, and waits for it.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// waitReady polls probe until it succeeds, the child exits or timeout.
func (c *child) waitReady(ctx context.Context, probe func(context.Context) error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := probe(ctx)
		if err == nil {
			n, ferr := openFDs(c.pid())
			if ferr != nil {
				return fmt.Errorf("%s: %w", c.name, ferr)
			}
			c.idle = n
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", c.name, c.err, c.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready on %s after %v: %v; its output:\n%s", c.name, c.addr, timeout, err, c.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// logTail is the end of the child's output, for error messages.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(b) == 0 {
		return "(nothing)"
	}
	return string(b)
}

// tcpProbe connects and hangs up at once: the controller sees a call
// whose switch went away before `connect`.
func tcpProbe(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// readyzProbe asks ailb's operations listener whether it is ready.
func readyzProbe(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	}
}

// openFDs counts a process's open descriptors: back at its idle count,
// a controller has let go of every call of the previous run.
func openFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// rewriteListen returns the config with listen.esl and listen.http
// replaced, everything else as written. An http listener the config
// disables ("") stays disabled; the result says whether it is on.
func rewriteListen(src []byte, esl, httpAddr, mediaAddr string) (out []byte, httpOn bool, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, false, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, errors.New("not a YAML mapping")
	}
	listen := mapValue(doc.Content[0], "listen")
	if listen == nil {
		listen = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setMapValue(doc.Content[0], "listen", listen)
	}
	if listen.Kind != yaml.MappingNode {
		return nil, false, errors.New("listen: not a mapping")
	}
	setMapValue(listen, "esl", scalar(esl))
	if m := mapValue(listen, "media"); m == nil || m.Kind != yaml.ScalarNode || m.Value != "" {
		setMapValue(listen, "media", scalar(mediaAddr))
	}
	httpOn = true
	if h := mapValue(listen, "http"); h != nil && h.Kind == yaml.ScalarNode && h.Value == "" {
		httpOn = false
	} else {
		setMapValue(listen, "http", scalar(httpAddr))
	}
	out, err = yaml.Marshal(&doc)
	return out, httpOn, err
}

// withRedis points a configuration's state at a Redis server.
func withRedis(src []byte, addr string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	addrs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{scalar(addr)}}
	r := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{scalar("addrs"), addrs}}
	setMapValue(doc.Content[0], "redis", r)
	return yaml.Marshal(&doc)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v.LineComment = m.Content[i+1].LineComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}
