/* global hexo */
'use strict';

// Hexo gives every post and page a random database id on each clean build, and the landscape
// theme prints it in every share link (data-id). Unchanged content would then differ from build
// to build, and the deploy, which compares content hashes, would resend every page. Derive the id
// from the page's URL instead, so a rebuild reproduces the same bytes.
const crypto = require('crypto');

hexo.extend.filter.register('after_render:html', (html) =>
  html.replace(/data-url="([^"]*)" data-id="[^"]*"/g, (match, url) =>
    `data-url="${url}" data-id="${crypto.createHash('sha1').update(url).digest('hex').slice(0, 25)}"`));
