package query

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
)

// Error is a refusal as EC2 answers it: Code is EC2's error code, Message
// its wording where known. Decode and Verify return only *Error values; the
// caller answers them with EncodeError and Status.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Status is the HTTP status EC2 answers e with (HTTPStatus of its code).
func (e *Error) Status() int { return HTTPStatus(e.Code) }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// EC2's error codes that this package returns, and the common ones a
// handler needs. The messages EC2 is known to send are in the functions that
// return them.
const (
	CodeAuthFailure                 = "AuthFailure"
	CodeSignatureDoesNotMatch       = "SignatureDoesNotMatch"
	CodeIncompleteSignature         = "IncompleteSignature"
	CodeRequestExpired              = "RequestExpired"
	CodeMissingAuthenticationToken  = "MissingAuthenticationToken"
	CodeInvalidAction               = "InvalidAction"
	CodeMissingAction               = "MissingAction"
	CodeUnknownParameter            = "UnknownParameter"
	CodeMissingParameter            = "MissingParameter"
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeInvalidParameter            = "InvalidParameter"
	CodeMalformedQueryString        = "MalformedQueryString"
	CodeDryRunOperation             = "DryRunOperation"
	CodeUnauthorizedOperation       = "UnauthorizedOperation"
	CodeRequestLimitExceeded        = "RequestLimitExceeded"
	CodeInternalError               = "InternalError"
	CodeServiceUnavailable          = "ServiceUnavailable"
	CodeUnavailable                 = "Unavailable"
)

// DryRunMessage is EC2's message with DryRunOperation (HTTP 412).
const DryRunMessage = "Request would have succeeded, but DryRun flag is set."

// statusByCode holds the codes whose HTTP status is not 400. EC2 answers
// client errors with 400-series statuses and server errors with 500-series
// ones (EC2 API Reference, "Error codes for the Amazon EC2 API").
var statusByCode = map[string]int{
	// A dry run that would have succeeded: 412 Precondition Failed, as
	// captured from EC2 in getmoto/moto#1980.
	CodeDryRunOperation: http.StatusPreconditionFailed,
	// Credentials: AuthFailure 401; a bad signature and the IAM refusals
	// 403 (as moto's core exceptions, which mirror AWS, answer them).
	CodeAuthFailure:                http.StatusUnauthorized,
	CodeSignatureDoesNotMatch:      http.StatusForbidden,
	CodeUnauthorizedOperation:      http.StatusForbidden,
	"InvalidClientTokenId":         http.StatusForbidden,
	"OptInRequired":                http.StatusForbidden,
	"Blocked":                      http.StatusForbidden,
	CodeMissingAuthenticationToken: http.StatusForbidden,
	// Server errors (EC2's "Server error codes" table).
	CodeInternalError:                      http.StatusInternalServerError,
	"InternalFailure":                      http.StatusInternalServerError,
	"ServerInternal":                       http.StatusInternalServerError,
	"InsufficientAddressCapacity":          http.StatusInternalServerError,
	"InsufficientCapacity":                 http.StatusInternalServerError,
	"InsufficientInstanceCapacity":         http.StatusInternalServerError,
	"InsufficientHostCapacity":             http.StatusInternalServerError,
	"InsufficientReservedInstanceCapacity": http.StatusInternalServerError,
	"InsufficientVolumeCapacity":           http.StatusInternalServerError,
	CodeRequestLimitExceeded:               http.StatusServiceUnavailable,
	CodeServiceUnavailable:                 http.StatusServiceUnavailable,
	CodeUnavailable:                        http.StatusServiceUnavailable,
}

// HTTPStatus is the HTTP status EC2 answers an error code with: 400 for a
// client error unless statusByCode says otherwise (401 AuthFailure, 403 for
// signature and permission refusals, 412 DryRunOperation, 500/503 for
// server errors).
func HTTPStatus(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// ContentType is the Content-Type of EC2's answers, errors included.
const ContentType = "text/xml;charset=UTF-8"

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// EncodeError writes an error in EC2's shape:
//
//	<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors><RequestID>…</RequestID></Response>
//
// The caller sets the status (HTTPStatus(code)) and ContentType first.
func EncodeError(w io.Writer, code, message, requestID string) error {
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<Response><Errors><Error><Code>")
	xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	xml.EscapeText(&b, []byte(message))
	b.WriteString("</Message></Error></Errors><RequestID>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</RequestID></Response>")
	_, err := w.Write(b.Bytes())
	return err
}

// EncodeErrorFor writes an error as the service of action answers it: EC2's
// shape (EncodeError) for EC2 actions and for actions the model lacks; the
// Query protocol's for STS,
//
//	<ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
//
// which is what the SDKs' STS clients read (Type is Receiver for 5xx codes).
func EncodeErrorFor(w io.Writer, action, code, message, requestID string) error {
	m, err := getModel()
	if err != nil {
		return EncodeError(w, code, message, requestID)
	}
	op, ok := m.operations[action]
	if !ok || op.service.Protocol == "ec2" {
		return EncodeError(w, code, message, requestID)
	}
	kind := "Sender"
	if HTTPStatus(code) >= 500 {
		kind = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString(`<ErrorResponse xmlns="`)
	xml.EscapeText(&b, []byte(op.service.XMLNamespace))
	b.WriteString(`"><Error><Type>` + kind + `</Type><Code>`)
	xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	xml.EscapeText(&b, []byte(message))
	b.WriteString("</Message></Error><RequestId>")
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString("</RequestId></ErrorResponse>")
	_, err = w.Write(b.Bytes())
	return err
}
