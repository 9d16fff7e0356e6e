package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"ailb/dialplan"
)

// adminClient talks to a running ailb's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags parses the flags every operator command shares.
func adminFlags(name string, args []string, stderr io.Writer) (*adminClient, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8086", "ailb's HTTP address (listen.http)")
	tokenEnv := fs.String("token-env", "AILB_ADMIN_TOKEN", "environment variable holding the admin token")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	token := os.Getenv(*tokenEnv)
	if token == "" {
		return nil, nil, fmt.Errorf("the admin token is read from $%s, which is empty", *tokenEnv)
	}
	base := strings.TrimRight(*server, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &adminClient{base: base, token: token, http: &http.Client{Timeout: 10 * time.Second}}, fs.Args(), nil
}

func (c *adminClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s (%d)", method, path, e.Error, resp.StatusCode)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// operator runs the commands that talk to a running server:
// members, enable, disable, reload, status, breaker.
func operator(cmd string, args []string, stdout, stderr io.Writer) int {
	c, rest, err := adminFlags(cmd, args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "ailb %s: %v\n", cmd, err)
		}
		return 2
	}
	if err := runOperator(c, cmd, rest, stdout); err != nil {
		fmt.Fprintf(stderr, "ailb %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func runOperator(c *adminClient, cmd string, args []string, w io.Writer) error {
	switch cmd {
	case "members":
		var pools []dialplan.PoolView
		if err := c.do("GET", "/api/pools", nil, &pools); err != nil {
			return err
		}
		printMembers(w, pools, args)
		return nil
	case "enable", "disable":
		if len(args) != 2 {
			return fmt.Errorf("usage: ailb %s [flags] POOL MEMBER", cmd)
		}
		status := "active"
		if cmd == "disable" {
			status = "inactive"
		}
		if err := c.do("POST", "/api/pools/"+args[0]+"/members/"+args[1], map[string]string{"status": status}, nil); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s in pool %s is now %s (next calls; calls in progress are untouched)\n", args[1], args[0], status)
		return nil
	case "reload":
		if err := c.do("POST", "/api/reload", nil, nil); err != nil {
			return err
		}
		fmt.Fprintln(w, "configuration reloaded")
		return nil
	case "breaker":
		if len(args) != 2 {
			return errors.New("usage: ailb breaker [flags] ASSISTANT open|close|reset")
		}
		var out map[string]string
		if err := c.do("POST", "/api/breakers/"+args[0], map[string]string{"action": args[1]}, &out); err != nil {
			return err
		}
		fmt.Fprintf(w, "breaker of %s: %s\n", args[0], out["state"])
		return nil
	case "status":
		var routes []dialplan.RouteView
		if err := c.do("GET", "/api/routes", nil, &routes); err != nil {
			return err
		}
		var pools []dialplan.PoolView
		if err := c.do("GET", "/api/pools", nil, &pools); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROUTE\tTO\tCALLS")
		for _, r := range routes {
			calls := "-"
			if r.Max > 0 {
				calls = fmt.Sprintf("%d/%d", r.Calls, r.Max)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Target, calls)
		}
		tw.Flush()
		fmt.Fprintln(w)
		printMembers(w, pools, nil)
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func printMembers(w io.Writer, pools []dialplan.PoolView, only []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tSTRATEGY\tMEMBER\tSTATUS\tBREAKER\tCALLS\tLAST RESULTS")
	for _, p := range pools {
		if len(only) > 0 && !contains(only, p.Name) {
			continue
		}
		for _, m := range p.Members {
			status := m.Status
			if m.Override {
				status += " (set live)"
			}
			calls := fmt.Sprint(m.Calls)
			if m.MaxCalls > 0 {
				calls = fmt.Sprintf("%d/%d", m.Calls, m.MaxCalls)
			}
			var last []string
			for i, r := range m.Recent {
				if i == 5 {
					break
				}
				last = append(last, r.Result)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Strategy, m.Assistant, status, orNone(m.Breaker), calls, orNone(strings.Join(last, " ")))
		}
	}
	tw.Flush()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
