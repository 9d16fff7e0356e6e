package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
)

// aLegVars are the variables every controller sets before its bridge
// (DESIGN.md, "Per-call protocol").
func aLegVars() [4][2]string {
	return [...][2]string{
		{"continue_on_fail", "true"},
		{"hangup_after_bridge", "false"},
		{"ignore_early_media", "true"},
		{"sip_copy_custom_headers", "false"},
	}
}

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

// newUUID is a random version 4 UUID (Event-UUID of a bridge).
func newUUID() string {
	var b [16]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
