package dashboard

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/views"
)

// UploadPath is where the Ingest page's form posts a file.
const UploadPath = "/ingest/upload"

// uploadOverhead is the room the multipart framing and the form's other
// fields may take beyond the file itself.
const uploadOverhead = 64 << 10

// uploadMemory is how much of an upload is held in memory while the form
// is read; the rest of the file waits in a temporary file.
const uploadMemory = 1 << 20

// uploadListed is how many errors the summary lists; the counts are
// complete.
const uploadListed = 10

// uploadResult is the summary of one uploaded file.
type uploadResult struct {
	File     string
	Format   string
	Bytes    int64
	Res      ingest.Result
	Err      string // the file as a whole was refused
	Status   int
	MoreErrs int // errors not listed
}

type uploadGuard struct {
	limit    int64
	over     bool  // the body went past limit
	parseErr error // the form could not be read
}

// guardUpload runs before the CSRF check, which reads the form: it bounds
// the body by ADOPTSCOPE_INGEST_MAX_BODY (plus the form's framing) and
// reads the form with at most uploadMemory of it in memory, the rest of the
// file in a temporary file removed when the request ends. The CSRF check
// then finds the form already read. A body over the limit, or a form that
// cannot be read, fails the CSRF check; the error is then replaced by the
// one that says why.
func (h *Handler) guardUpload(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := h.opts.Ingest
		if p == nil {
			return next(c)
		}
		r := c.Request()
		g := &uploadGuard{limit: p.Config().MaxBody + uploadOverhead}
		if r.ContentLength > g.limit {
			g.over = true
			r.Body = http.NoBody
		} else {
			r.Body = &guardedBody{ReadCloser: r.Body, g: g, left: g.limit}
			if err := r.ParseMultipartForm(uploadMemory); err != nil && !g.over && !errors.Is(err, http.ErrNotMultipart) {
				g.parseErr = err
			}
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
		}
		err := next(c)
		if err == nil {
			return nil
		}
		switch {
		case g.over:
			return httperr.New(http.StatusRequestEntityTooLarge, h.tooLargeMessage())
		case g.parseErr != nil:
			return httperr.Wrap(http.StatusBadRequest, "The upload could not be read ("+g.parseErr.Error()+"). Choose the file again and upload it from the Ingest page.", g.parseErr)
		}
		return err
	}
}

func (h *Handler) tooLargeMessage() string {
	max := h.opts.Ingest.Config().MaxBody
	return fmt.Sprintf("The file is over the upload limit of %s (ADOPTSCOPE_INGEST_MAX_BODY, %d bytes; a .gz file counts once decompressed): nothing from it was stored. "+
		"Split it, or load it with `adoptscope load --api URL --token TOKEN FILE`, which sends any size in chunks.", views.FormatBytes(uint64(max)), max)
}

// guardedBody fails, and notes it, once more than left bytes are read.
type guardedBody struct {
	io.ReadCloser
	g    *uploadGuard
	left int64
}

func (b *guardedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ingest.ErrTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		b.g.over = true
		return n - 1, ingest.ErrTooLarge
	}
	return n, err
}

// submitIngestUpload takes one file through the same pipeline as POST
// /v1/events (decoding slots, validation, pseudonymization, dedup window,
// the answer after the commit) and shows the Ingest page with its summary.
func (h *Handler) submitIngestUpload(c echo.Context) error {
	p := h.opts.Ingest
	if p == nil {
		return httperr.New(http.StatusNotFound, "This process does not run the ingest API, so it takes no files. "+views.SendFilesElsewhere)
	}
	r := c.Request()
	var file *multipart.FileHeader
	if r.MultipartForm != nil && len(r.MultipartForm.File["file"]) > 0 {
		file = r.MultipartForm.File["file"][0]
	}
	if file == nil {
		return h.showUploadResult(c, uploadResult{Status: http.StatusBadRequest, Err: "No file was sent: choose an NDJSON, JSON or CSV file (optionally .gz) and upload it."})
	}
	res := uploadResult{File: filepath.Base(file.Filename), Bytes: file.Size}
	format, gz, ok := ingest.FormatOfFile(res.File)
	if !ok {
		res.Status, res.Err = http.StatusBadRequest, "The file name does not say its format: name it .ndjson, .jsonl, .json or .csv (optionally .gz)."
		return h.showUploadResult(c, res)
	}
	res.Format = format.String()
	delim, err := ingest.ParseDelimiter(r.FormValue("delimiter"))
	if err != nil {
		res.Status, res.Err = http.StatusBadRequest, "CSV delimiter: "+err.Error()
		return h.showUploadResult(c, res)
	}
	if delim != 0 && format != ingest.CSV {
		res.Status, res.Err = http.StatusBadRequest, "The CSV delimiter applies to .csv files only: choose \"detect\" for a "+format.String()+" file."
		return h.showUploadResult(c, res)
	}
	f, err := file.Open()
	if err != nil {
		return httperr.Wrap(http.StatusInternalServerError, "The uploaded file could not be read back. The error is in the server log.", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var body io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			res.Status, res.Err = http.StatusBadRequest, "The file starts as gzip data but its gzip header is damaged: "+err.Error()
			return h.showUploadResult(c, res)
		}
		defer zr.Close()
		body = zr
	} else if gz {
		res.Status, res.Err = http.StatusBadRequest, "The file is named .gz but is not gzip data: rename it without .gz, or compress it with gzip."
		return h.showUploadResult(c, res)
	}
	out, err := p.SubmitBodyWith(r.Context(), format, body, ingest.BodyOptions{Delimiter: delim})
	if err != nil {
		// The pipeline's error says its status and Retry-After, the same
		// as POST /v1/events and the SDK endpoints answer; the page only
		// shows it.
		status, msg, unexpected := httperr.Describe(err)
		if unexpected {
			h.log.Error("ingest upload failed", "error", err)
		}
		httperr.SetHeaders(c.Response().Header(), err)
		res.Status, res.Err = status, uploadSentence(msg)
		if ie := (*ingest.Error)(nil); errors.As(err, &ie) && ie.Kind == ingest.BodyTooLarge {
			// The page's advice for a file: the limit in units, and the
			// command that sends any size.
			res.Err = h.tooLargeMessage()
		}
		return h.showUploadResult(c, res)
	}
	res.Res = out
	res.Status = http.StatusOK
	if out.Accepted == 0 && out.Duplicates == 0 {
		res.Status = http.StatusBadRequest // as POST /v1/events answers
	}
	lines := 0
	for i, e := range out.Errors {
		if i == 0 || out.Errors[i-1].Line != e.Line {
			lines++
		}
	}
	res.MoreErrs = max(out.Rejected-min(lines, uploadListed), 0)
	h.log.Info("ingest upload", "file", res.File, "bytes", res.Bytes, "user", sessionOf(r.Context()).User,
		"accepted", out.Accepted, "duplicates", out.Duplicates, "rejected", out.Rejected)
	return h.showUploadResult(c, res)
}

// uploadSentence is msg as a sentence of the page: capitalised, with its
// full stop.
func uploadSentence(msg string) string {
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

func (h *Handler) showUploadResult(c echo.Context, res uploadResult) error {
	pr := h.request(c)
	p, v := h.ingestPageView(pr)
	v.Upload = viewUpload(res)
	return h.render(pr, res.Status, p, views.IngestPage(v))
}

// firstLines is the errors of the first n lines of errs (sorted by line).
func firstLines(errs []ingest.FieldError, n int) []ingest.FieldError {
	lines := 0
	for i, e := range errs {
		if i == 0 || errs[i-1].Line != e.Line {
			lines++
			if lines > n {
				return errs[:i]
			}
		}
	}
	return errs
}
