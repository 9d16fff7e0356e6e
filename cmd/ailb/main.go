// Command ailb load-balances FreeSWITCH calls across AI voice assistants.
//
//	ailb serve -config configs/ailb.yaml   run the server
//	ailb check -config configs/ailb.yaml   validate a config and print the resolved routes
//	ailb version
//	ailb status | members | enable | disable | reload | breaker   (operators, via the admin API)
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "members", "enable", "disable", "reload", "status", "breaker":
		return operator(cmd, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ailb", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "ailb: unknown command %q\n\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: ailb <command> [flags]

commands:
  serve     run the server (default)       -config FILE  -drain-timeout D
  check     validate a config and print the resolved routes   -config FILE
  version   print the version

operator commands (talk to a running ailb; token from $AILB_ADMIN_TOKEN; -server URL):
  status                        routes, pools, members, breakers
  members [POOL...]             members with status, calls and last results
  enable POOL MEMBER            switch a member on for the next calls
  disable POOL MEMBER           switch a member off for the next calls
  reload                        reload the configuration file (refused if invalid)
  breaker ASSISTANT open|close|reset
`)
}
