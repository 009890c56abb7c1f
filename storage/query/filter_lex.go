package query

import (
	"strconv"
	"strings"
)

// tokKind classifies a lexed token.
type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokWord           // keyword, column name, number, address, …
	tokString         // "quoted text"; text holds the unquoted value
	tokLParen         // (
	tokRParen         // )
	tokLBrack         // [
	tokRBrack         // ]
	tokComma          // , (a separator inside lists)
	tokNot            // !
	tokAnd            // &&
	tokOr             // ||
	tokOp             // = == != > < >= <=
)

// token is one lexeme with its byte offset into the source.
type token struct {
	kind tokKind
	text string // source text, or the unquoted value of a tokString
	pos  int
}

// is reports whether t is the word w, ignoring case.
func (t token) is(w string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, w)
}

// wordStop reports whether c ends a bare word.
func wordStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '(', ')', '[', ']', ',', '!', '=', '<', '>', '"', '&', '|':
		return true
	}
	return false
}

// lex splits src into tokens, ending with a tokEOF at len(src).
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
			toks = append(toks, token{kind: punct(c), text: src[i : i+1], pos: i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(src) || src[i+1] != c {
				return nil, &FilterError{Pos: i, Expected: `"&&" or "||"`, Got: strconv.Quote(src[i : i+1]), Src: src}
			}
			kind := tokAnd
			if c == '|' {
				kind = tokOr
			}
			toks = append(toks, token{kind: kind, text: src[i : i+2], pos: i})
			i += 2
		case c == '!' || c == '=' || c == '<' || c == '>':
			n := 1
			if i+1 < len(src) && src[i+1] == '=' {
				n = 2
			}
			text := src[i : i+n]
			kind := tokOp
			if text == "!" {
				kind = tokNot
			}
			toks = append(toks, token{kind: kind, text: text, pos: i})
			i += n
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, &FilterError{Pos: i, Expected: `a closing '"'`, Got: "end of filter", Src: src}
			}
			s, err := strconv.Unquote(src[i : j+1])
			if err != nil {
				return nil, &FilterError{Pos: i, Expected: `a string with Go escapes (\" \\ \n \t \xNN)`, Got: src[i : j+1], Src: src}
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i = j + 1
		default:
			j := i
			for j < len(src) && !wordStop(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokWord, text: src[i:j], pos: i})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(src)}), nil
}

// punct returns the kind of a one-byte punctuation token.
func punct(c byte) tokKind {
	switch c {
	case '(':
		return tokLParen
	case ')':
		return tokRParen
	case '[':
		return tokLBrack
	case ']':
		return tokRBrack
	}
	return tokComma
}
