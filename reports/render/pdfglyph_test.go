package render

import (
	"bytes"
	"compress/zlib"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"
)

var (
	pdfStream  = regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`)
	pdfFontTf  = regexp.MustCompile(`/F(\w+) [\d.]+ Tf`)
	pdfShowStr = regexp.MustCompile(`(?s)/F(\w+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\)\s*Tj`)
)

// pdfTextByFont returns, per font resource name, the text the PDF's page
// streams show in it (fpdf writes UTF-16BE strings with Identity-H, so the
// text is the code points) and the resource name of the font whose
// BaseFont ends in base.
func pdfTextByFont(t *testing.T, pdf []byte, base string) (map[string]string, string) {
	t.Helper()
	obj := regexp.MustCompile(`(\d+) 0 obj\s*<</Type /Font\s*/Subtype /Type0\s*/BaseFont /\w*` + base + `\b`).FindSubmatch(pdf)
	if obj == nil {
		t.Fatalf("no Type0 font %q in the PDF", base)
	}
	res := regexp.MustCompile(`/F(\w+) ` + string(obj[1]) + ` 0 R`).FindSubmatch(pdf)
	if res == nil {
		t.Fatalf("font object %s is in no resource dictionary", obj[1])
	}
	out := map[string]string{}
	for _, m := range pdfStream.FindAllSubmatch(pdf, -1) {
		zr, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue
		}
		body, err := io.ReadAll(zr)
		if err != nil || !pdfFontTf.Match(body) {
			continue
		}
		font := ""
		for _, s := range pdfShowStr.FindAllSubmatch(body, -1) {
			if s[1] != nil {
				font = string(s[1])
				continue
			}
			out[font] += decodeUTF16PDF(s[2])
		}
	}
	return out, string(res[1])
}

// decodeUTF16PDF undoes fpdf's string escapes and decodes UTF-16BE.
func decodeUTF16PDF(b []byte) string {
	var raw []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
			if b[i] == 'r' {
				raw = append(raw, '\r')
				continue
			}
		}
		raw = append(raw, b[i])
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return string(utf16.Decode(u))
}

// TestPDFDrawsCJKInTheCJKFont: the Latin font has no Chinese glyphs (a
// viewer would draw empty boxes), so every Chinese character must be shown
// in the embedded CJK font and every Latin letter in the Latin one.
// pdftotext cannot see this: it reads the code points whatever the glyphs.
func TestPDFDrawsCJKInTheCJKFont(t *testing.T) {
	needFonts(t)
	b, err := Render(sampleDoc(t, 20), FormatPDF, Options{})
	if err != nil {
		t.Fatal(err)
	}
	byFont, cjk := pdfTextByFont(t, b, "cjk")
	if !strings.Contains(byFont[cjk], "上海") || !strings.Contains(byFont[cjk], "核心交换机") {
		t.Errorf("the CJK font shows %q, want the Chinese names", byFont[cjk])
	}
	for font, text := range byFont {
		for _, r := range text {
			if isWide(r) != (font == cjk) && r != ' ' {
				t.Errorf("font F%s (CJK is F%s) shows %q", font, cjk, r)
				break
			}
		}
	}
}
