package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"ailb/config"
	"ailb/media"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/ailb.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.LoadFile(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ailb: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", *path)
	printResolved(stdout, cfg)
	return 0
}

// printResolved shows what a call meets: routes in order, pools with their
// members and fallback, assistants. Secrets are shown by variable name only.
func printResolved(w io.Writer, c *config.Config) {
	fmt.Fprintf(w, "listen: esl %s, http %s, allow %s\n\n", c.Listen.ESL, orNone(c.Listen.HTTP), strings.Join(c.Listen.Allow, " "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tWHEN\tTO")
	for _, r := range c.Routes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, when(&r.Match), to(&r.Target))
	}
	fmt.Fprintf(tw, "default\t(no route matched)\t%s\n", to(c.DefaultRoute))
	tw.Flush()

	for _, name := range keys(c.Pools) {
		p := c.Pools[name]
		follow := "on"
		if !p.Follow() {
			follow = "off"
		}
		fmt.Fprintf(w, "\npool %s: %s, follow-through %s\n", name, p.Strategy, follow)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  POS\tASSISTANT\tPRIORITY\tWEIGHT\tSTATUS\tDIALS\tANSWER\tMAX CALLS")
		ms := append([]*config.Member(nil), p.Members...)
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].Position < ms[j].Position })
		for _, m := range ms {
			a := c.Assistants[m.Assistant]
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", m.Position, m.Assistant, m.Priority, m.EffectiveWeight(),
				m.Status, dials(a), a.AnswerTimeout.D(), maxCalls(a.MaxCalls))
		}
		tw.Flush()
		steps := make([]string, 0, len(p.Fallback))
		for _, a := range p.Fallback {
			steps = append(steps, action(a))
		}
		fmt.Fprintf(w, "  fallback: %s, then FreeSWITCH's dialplan after `socket`\n", strings.Join(steps, " -> "))
		if p.After != nil {
			fmt.Fprintf(w, "  after the AI: %s\n", action(p.After))
		}
	}
	for _, name := range keys(c.IVR) {
		m := c.IVR[name]
		opts := make([]string, 0, len(m.Options))
		for _, d := range keys(m.Options) {
			opts = append(opts, d+": "+action(m.Options[d]))
		}
		fmt.Fprintf(w, "\nivr %s: %s, %d tries; %s\n", name, m.Prompt, m.Tries, strings.Join(opts, "; "))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ASSISTANT\tDIALS\tHEADERS")
	for _, name := range keys(c.Assistants) {
		a := c.Assistants[name]
		var hs []string
		headers, env := map[string]string{}, map[string]string{}
		if a.SIP != nil {
			headers, env = a.SIP.Headers, a.SIP.HeaderEnv
		} else if a.WebSocket != nil {
			headers, env = a.WebSocket.Headers, a.WebSocket.HeaderEnv
			if a.WebSocket.AuthTokenEnv != "" {
				hs = append(hs, "{auth_token}=$"+a.WebSocket.AuthTokenEnv)
			}
		}
		for _, h := range keys(headers) {
			hs = append(hs, h+"="+headers[h])
		}
		for _, h := range keys(env) {
			hs = append(hs, h+"=$"+env[h])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, dials(a), orNone(strings.Join(hs, " ")))
	}
	tw.Flush()
}

func when(m *config.Match) string {
	var parts []string
	if m.Destination != "" {
		parts = append(parts, "destination ~ "+m.Destination)
	}
	if m.Caller != "" {
		parts = append(parts, "caller ~ "+m.Caller)
	}
	if m.Context != "" {
		parts = append(parts, "context = "+m.Context)
	}
	for _, k := range keys(m.Variables) {
		parts = append(parts, k+" = "+m.Variables[k])
	}
	return strings.Join(parts, " and ")
}

func to(t *config.Target) string {
	switch t.Kind() {
	case "pool":
		return "pool " + t.Pool
	case "assistant":
		return "assistant " + t.Assistant + " (one attempt)"
	case "extension":
		return "extension " + t.Extension + " in " + t.Context
	case "ivr":
		return "ivr " + t.IVR
	}
	return "hangup " + t.Hangup
}

func action(a *config.Action) string {
	switch a.Action {
	case config.ActExtension:
		return "extension " + a.Extension + " in " + a.Context
	case config.ActRingGroup:
		return fmt.Sprintf("ring group %s %s for %s", a.Mode, strings.Join(a.Endpoints, ","), a.Timeout.D())
	case config.ActIVR:
		return "ivr " + a.Menu
	case config.ActAssistant:
		return "assistant " + a.Assistant + " (one attempt)"
	case config.ActPool:
		return "pool " + a.Pool
	}
	return "hangup " + a.Cause
}

func dials(a *config.Assistant) string {
	if w := a.WebSocket; w != nil {
		u := "(bad url)"
		if t, err := media.ParseURLTemplate(w.URL); err == nil {
			u = t.String() // secrets stay hidden
		}
		return fmt.Sprintf("websocket %s %s %s %dHz via %s", w.Mode, w.Protocol, u, w.SampleRate, w.Module)
	}
	if a.SIP.Endpoint != "" {
		return a.SIP.Endpoint
	}
	return "sofia/gateway/" + a.SIP.Gateway + "/" + a.SIP.Number
}

func maxCalls(n int) string {
	if n <= 0 {
		return "no cap"
	}
	return fmt.Sprint(n)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
