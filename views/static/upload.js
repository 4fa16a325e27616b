// AdoptScope Ingest page: uploads the chosen file with a progress bar,
// then shows the summary the server answers (the same page the form
// posts to without scripts). Nothing from elsewhere, no inline code.
(function () {
  'use strict';

  function size(n) {
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
    return n + ' bytes';
  }

  function showError(result, msg) {
    var p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.setAttribute('data-testid', 'upload-error');
    p.textContent = msg;
    result.replaceChildren(p);
  }

  function wire(form) {
    var card = form.closest('[data-testid="ingest-upload"]');
    var result = card.querySelector('[data-testid="ingest-upload-result"]');
    var row = form.querySelector('[data-upload-progress]');
    var bar = row.querySelector('progress');
    var status = row.querySelector('[data-upload-status]');
    var button = form.querySelector('button[type="submit"]');
    var maxBody = parseInt(form.getAttribute('data-max-body'), 10) || 0;

    form.addEventListener('submit', function (ev) {
      var file = form.querySelector('input[type="file"]').files[0];
      if (!file || !window.FormData || !window.XMLHttpRequest) return; // the plain form post
      ev.preventDefault();
      if (maxBody > 0 && file.size > maxBody) {
        showError(result, file.name + ': the file is ' + size(file.size) + ', over the upload limit of ' + size(maxBody) +
          ' (ADOPTSCOPE_INGEST_MAX_BODY): nothing was sent. Split it, or load it with `adoptscope load --api URL --token TOKEN FILE`, which sends any size in chunks.');
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.responseType = 'document';
      row.hidden = false;
      bar.value = 0;
      button.disabled = true;
      status.textContent = 'Uploading ' + file.name + '…';
      xhr.upload.addEventListener('progress', function (e) {
        if (!e.lengthComputable) return;
        bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = 'Uploading ' + file.name + ': ' + size(e.loaded) + ' of ' + size(e.total) + ' (' + bar.value + ' %)';
      });
      xhr.upload.addEventListener('load', function () {
        bar.removeAttribute('value'); // indeterminate while the server works
        status.textContent = file.name + ' uploaded: validating and committing its events…';
      });
      xhr.addEventListener('load', function () {
        button.disabled = false;
        row.hidden = true;
        var doc = xhr.response;
        var got = doc && doc.querySelector('[data-testid="ingest-upload-result"]');
        if (got) {
          result.replaceWith(document.importNode(got, true));
          result = card.querySelector('[data-testid="ingest-upload-result"]');
          return;
        }
        var err = doc && doc.querySelector('[data-testid="page-error"]');
        showError(result, file.name + ': ' + (err ? err.textContent : 'the server answered ' + xhr.status + ' ' + xhr.statusText));
      });
      xhr.addEventListener('error', function () {
        button.disabled = false;
        row.hidden = true;
        showError(result, file.name + ': the upload did not reach the server (network error). Upload it again: nothing is stored twice.');
      });
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll('form[data-upload]').forEach(wire);
})();
