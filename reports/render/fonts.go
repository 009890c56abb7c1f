package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Fonts are the TrueType files the PDF embeds: Regular and Bold for Latin
// text (and digits), CJK for Chinese, Japanese and Korean names. fpdf needs
// TrueType outlines: OpenType/CFF files (.otf) and collections (.ttc, as
// Debian's fonts-noto-cjk ships) are refused with an error that says so.
type Fonts struct {
	Regular string
	Bold    string
	CJK     string
}

// FontSearch lists, per font, the files tried in order when Fonts leaves
// the font empty.
type FontSearch struct{ Regular, Bold, CJK []string }

// DefaultFontSearch returns where each font is searched for when Fonts
// leaves it empty, first found wins: Debian's fonts-dejavu-core for Latin
// and fonts-droid-fallback (or fonts-arphic-gbsn00lp) for CJK.
func DefaultFontSearch() FontSearch {
	return FontSearch{
		Regular: []string{
			"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
			"/usr/share/fonts/TTF/DejaVuSans.ttf",
			"/usr/share/fonts/dejavu/DejaVuSans.ttf",
		},
		Bold: []string{
			"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
			"/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
			"/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
		},
		CJK: []string{
			"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
			"/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf",
			"/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",
		},
	}
}

// ErrFontMissing is returned when a font the PDF needs is not found.
var ErrFontMissing = errors.New("font not found")

// loadedFonts are the font files' bytes.
type loadedFonts struct{ regular, bold, cjk []byte }

// load reads the configured fonts, or the first default that exists.
func (fs Fonts) load() (loadedFonts, error) {
	var lf loadedFonts
	var err error
	def := DefaultFontSearch()
	if lf.regular, err = loadFont("regular", fs.Regular, def.Regular, "fonts-dejavu-core"); err != nil {
		return lf, err
	}
	if lf.bold, err = loadFont("bold", fs.Bold, def.Bold, "fonts-dejavu-core"); err != nil {
		return lf, err
	}
	if lf.cjk, err = loadFont("CJK", fs.CJK, def.CJK, "fonts-droid-fallback"); err != nil {
		return lf, err
	}
	return lf, nil
}

// loadFont reads path, or the first of defaults that exists when path is
// empty, and checks that it is a TrueType font.
func loadFont(role, path string, defaults []string, debian string) ([]byte, error) {
	if path == "" {
		for _, d := range defaults {
			if _, err := os.Stat(d); err == nil {
				path = d
				break
			}
		}
		if path == "" {
			return nil, fmt.Errorf("%w: no %s font in %s (install Debian %s or set the font path)", ErrFontMissing, role, strings.Join(defaults, ", "), debian)
		}
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s font %s does not exist", ErrFontMissing, role, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s font: %w", role, err)
	}
	switch {
	case len(b) < 12:
		return nil, fmt.Errorf("%s font %s: too short (%d bytes) to be a TrueType font", role, path, len(b))
	case bytes.HasPrefix(b, []byte("ttcf")):
		return nil, fmt.Errorf("%s font %s is a font collection (.ttc): the PDF needs a single TrueType .ttf file", role, path)
	case bytes.HasPrefix(b, []byte("OTTO")):
		return nil, fmt.Errorf("%s font %s has CFF (OpenType) outlines: the PDF needs TrueType outlines (.ttf)", role, path)
	case !bytes.HasPrefix(b, []byte{0, 1, 0, 0}) && !bytes.HasPrefix(b, []byte("true")):
		return nil, fmt.Errorf("%s font %s is not a TrueType font", role, path)
	}
	return b, nil
}
