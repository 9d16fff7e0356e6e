package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
)

// The baselines set the same caller variables as ailb (media.ALegVars),
// so that the comparison stays fair when that list changes.

// lingerSeconds is the linger both baselines ask for, as ailb's configs do.
const lingerSeconds = 10

func baselineCmd(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "", "eslgo: eslgo used as its README teaches; raw: the least a raw-socket controller can do")
	listen := fs.String("listen", "127.0.0.1:9084", "address FreeSWITCH's socket application connects to")
	endpoint := fs.String("endpoint", "sofia/internal/ai@127.0.0.1", "what every call is bridged to")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ailb-load baseline: unexpected arguments: %q\n", fs.Args())
		return 2
	}
	var err error
	switch *kind {
	case "eslgo":
		err = serveEslgo(ctx, *listen, *endpoint)
	case "raw":
		var ln net.Listener
		if ln, err = net.Listen("tcp", *listen); err == nil {
			err = serveRaw(ctx, ln, *endpoint)
		}
	default:
		fmt.Fprintf(stderr, "ailb-load baseline: -kind %q: want eslgo or raw\n", *kind)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ailb-load baseline -kind %s: %v\n", *kind, err)
		return 1
	}
	return 0
}
