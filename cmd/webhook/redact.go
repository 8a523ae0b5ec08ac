package main

import (
	"errors"
	"net/url"
	"regexp"
)

// redacted is u as errors and the inspector's page show it: its password
// replaced by xxxxx, as url.URL.Redacted does, and a user name without a
// password too, since that is most often a password written without the
// colon before it (redis://PASSWORD@host), which url.Parse reads as a
// user name.
func redacted(u *url.URL) string {
	if u.User != nil {
		if _, has := u.User.Password(); !has && u.User.Username() != "" {
			c := *u
			c.User = url.User("xxxxx")
			return c.String()
		}
	}
	return u.Redacted()
}

// shownURL is u as errors show it: redacted, and without its query and
// fragment, which often carry a token (?token=…, ?access_token=…,
// #access_token=…) and say nothing of what is wrong.
func shownURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	return redacted(&c)
}

// quotedPiece matches what a net/url error quotes: the URL, and the
// piece of it that it could not read.
var quotedPiece = regexp.MustCompile(` ?"(?:[^"\\]|\\.)*"`)

// parseReason is why url.Parse refused a URL (err), without the URL its
// error quotes whole nor the piece its message quotes (an escape, a port,
// a character), any of which may be a token's or a password's:
// `parse "…": invalid port ":80x" after host` is "invalid port after
// host".
func parseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return quotedPiece.ReplaceAllString(err.Error(), "")
}
