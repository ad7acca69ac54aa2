package admin

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/migratekit/migrate/telemetry"
)

// WriteText writes st for a terminal: old and new side by side.
func (st AppStatus) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s  weight %d%% on new  phase %s\n", st.App, st.Weight, st.Phase)
	if v := st.Verdict; v != nil {
		fmt.Fprintf(w, "verdict %s at %s", v.Result, v.At.Format("15:04:05"))
		for _, c := range v.Checks {
			if c.Result != "pass" {
				fmt.Fprintf(w, "; %s", c.Reason)
			}
		}
		if v.Err != "" {
			fmt.Fprintf(w, "; %s", v.Err)
		}
		fmt.Fprintln(w)
	}
	if st.Plan != nil {
		fmt.Fprintln(w, planText(st.App, st.Plan))
	}
	fmt.Fprintln(w)
	old, nw := st.Sides[telemetry.SideOld], st.Sides[telemetry.SideNew]
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\told\tnew\t\n")
	fmt.Fprintf(tw, "requests\t%d\t%d\t\n", old.Requests, nw.Requests)
	fmt.Fprintf(tw, "errors (5xx)\t%d\t%d\t\n", old.Errors, nw.Errors)
	fmt.Fprintf(tw, "error rate\t%.2f%%\t%.2f%%\t\n", old.ErrorRate*100, nw.ErrorRate*100)
	fmt.Fprintf(tw, "p50\t%.1f ms\t%.1f ms\t\n", old.P50Ms, nw.P50Ms)
	fmt.Fprintf(tw, "p99\t%.1f ms\t%.1f ms\t\n", old.P99Ms, nw.P99Ms)
	fmt.Fprintf(tw, "backends up\t%s\t%s\t\n", st.upCount(telemetry.SideOld), st.upCount(telemetry.SideNew))
	return tw.Flush()
}

func (st AppStatus) upCount(side string) string {
	up, all := 0, 0
	for _, b := range st.Backends {
		if b.Side != side {
			continue
		}
		all++
		if b.Healthy {
			up++
		}
	}
	return fmt.Sprintf("%d/%d", up, all)
}
