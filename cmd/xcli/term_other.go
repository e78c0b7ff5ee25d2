//go:build !linux

package main

import (
	"errors"
	"io"
	"os"
)

func isTerminal(io.Reader) bool { return false }

func echoOff(*os.File) (func(), error) { return nil, errors.New("no terminal support") }
