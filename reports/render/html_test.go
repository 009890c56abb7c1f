package render

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestHTMLFile checks the HTML as a file: self-contained (nothing that
// fetches), escaped, warnings first, tables capped with the XLSX note.
func TestHTMLFile(t *testing.T) {
	doc := sampleDoc(t, 120)
	for _, c := range []struct {
		name    string
		opts    Options
		printed int
		note    string
	}{
		{"default cap", Options{BaseURL: "https://flowlake.example.com"}, DefaultMaxRows, "70 more rows in the XLSX"},
		{"configured cap", Options{MaxRows: 10}, 10, "110 more rows in the XLSX"},
		{"no cap", Options{MaxRows: -1}, 120, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := Render(doc, FormatHTML, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			h := string(b)
			for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "<b>mgmt"} {
				if strings.Contains(h, bad) {
					t.Errorf("HTML contains %q", bad)
				}
			}
			for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "edge-fw &lt;b&gt;mgmt&lt;/b&gt;", `name="viewport"`, "Content-Security-Policy"} {
				if !strings.Contains(h, want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			if w, s := strings.Index(h, `class="warnings"`), strings.Index(h, "<h2>"); w < 0 || w > s {
				t.Errorf("warnings at %d, first section at %d: want warnings first", w, s)
			}
			if got := strings.Count(h, " #"); got < c.printed || got > c.printed+1 {
				t.Errorf("%d interface rows printed, want %d", got, c.printed)
			}
			if c.note != "" && !strings.Contains(h, c.note) {
				t.Errorf("no %q under the capped table", c.note)
			}
			if c.note == "" && strings.Contains(h, "more rows in the XLSX") {
				t.Errorf("an uncapped table says rows are missing")
			}
			if c.opts.BaseURL != "" && !strings.Contains(h, `href="https://flowlake.example.com/console/links?from=`) {
				t.Errorf("the document's link is not resolved against the base URL")
			}
		})
	}
}

// browserResult is what headless Chromium saw of a page.
type browserResult struct {
	text        string
	requests    []string
	errors      []string
	scrollWidth int64
}

// loadInChromium loads html into headless Chromium (as the document of
// about:blank, so the page itself is no request) with a phone's viewport,
// and records every network request and every console error or exception.
func loadInChromium(t *testing.T, html string) browserResult {
	t.Helper()
	exe := needTool(t, "chromium", "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	var mu sync.Mutex
	var res browserResult
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			res.requests = append(res.requests, e.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				res.errors = append(res.errors, "console."+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			res.errors = append(res.errors, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				res.errors = append(res.errors, "log: "+e.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatalf("chromium: listen: %v", err)
	}
	err = chromedp.Do(bctx,
		chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			tree, err := cdp.Call(ctx, tg, page.GetFrameTree, cdp.Empty{})
			if err != nil {
				return err
			}
			_, err = cdp.Call(ctx, tg, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: tree.FrameTree.Frame.ID, HTML: html})
			return err
		}),
		chromedp.WaitReady("body"),
	)
	if err != nil {
		t.Fatalf("chromium: load the page: %v", err)
	}
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	sw, err := chromedp.Run(bctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	res.text, res.scrollWidth = text, sw
	return res
}

// TestHTMLInChromium renders the report in headless Chromium at a phone's
// width: no console error, no network request, no horizontal page scroll
// (wide tables scroll in their own box), and every figure and printed row
// in the DOM text as the model has it. A page with an external image, the
// control, must be caught.
func TestHTMLInChromium(t *testing.T) {
	doc := sampleDoc(t, 120)
	opts := Options{BaseURL: "https://flowlake.example.com"}
	b, err := Render(doc, FormatHTML, opts)
	if err != nil {
		t.Fatal(err)
	}
	res := loadInChromium(t, string(b))
	if len(res.requests) > 0 {
		t.Errorf("network requests: %q", res.requests)
	}
	if len(res.errors) > 0 {
		t.Errorf("console errors: %q", res.errors)
	}
	if res.scrollWidth > 376 {
		t.Errorf("page is %d px wide on a 375 px phone", res.scrollWidth)
	}
	checkPrinted(t, "html", res.text, expectations(t, doc, opts))

	control := strings.Replace(string(b), "<h1>", `<img src="http://127.0.0.1:9/x.png"><h1>`, 1)
	if c := loadInChromium(t, control); len(c.requests) == 0 && len(c.errors) == 0 {
		t.Errorf("an external image was neither requested nor reported: the checks above cannot fail")
	}
}
