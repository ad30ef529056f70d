#!/usr/bin/env bash
# Screenshot of the asv dashboard with headless Chromium, offline.
#
# asv's pages load jQuery, flot, bootstrap and a few small scripts from CDNs (with
# subresource-integrity hashes), which cannot be reached from an offline machine, so
# the pages stay blank. This script
#   1. fetches the same versions from the npm registry (`npm pack`, cached in
#      $ASV_VENDOR_CACHE, default ~/.cache/fastlstm-asv-vendor),
#   2. copies asv_benchmarks/html (made by `asv publish`) to a temporary folder and
#      rewrites the CDN addresses in its pages to those local copies, keeping each
#      integrity hash where the npm file is byte-identical to the CDN's and dropping
#      it where it is not (see VENDOR below),
#   3. serves that folder on 127.0.0.1 and has Chromium take the screenshot.
# Nothing under asv_benchmarks/html is modified.
#
# Usage: asv_benchmarks/screenshot.sh OUT.png ["HASH"]
#   HASH: the dashboard page to show ('' for the benchmark grid), default one benchmark's graph, e.g.
#   'lstm.TrackSpeedupVsTorch.track_speedup_training?p-config=step&p-config=tiny'
# Needs: npm, python3, chromium (Debian: apt-get install chromium), and Pillow to shrink
# the PNG to a palette image (Matplotlib brings it; skipped if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: screenshot.sh OUT.png [HASH]}"
page="${2-lstm.TrackSpeedupVsTorch.track_speedup_training}"
size="${SCREENSHOT_SIZE:-1200,760}"
cache="${ASV_VENDOR_CACHE:-$HOME/.cache/fastlstm-asv-vendor}"
python="${PYTHON:-python3}"
chromium="${CHROMIUM:-chromium}"

[ -f "$here/html/index.html" ] || { echo "no $here/html/index.html: run 'asv publish' first" >&2; exit 2; }
command -v "$chromium" >/dev/null || { echo "chromium not found (apt-get install chromium)" >&2; exit 2; }

# CDN address (as asv 0.6 writes it) -> npm package@version and file inside it.
# cdnjs's flot 0.8.3 *.min.js files are cdnjs's own minified builds and stupidtable
# 1.0.1 is not on npm: those are served from the npm package's unminified flot 0.8.3
# files and from stupid-table-plugin 1.1.3, without an integrity hash.
VENDOR='
https://code.jquery.com/jquery-3.3.1.min.js jquery@3.3.1 dist/jquery.min.js
https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css bootstrap@3.1.1 dist/css/bootstrap.min.css
https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js bootstrap@3.1.1 dist/js/bootstrap.min.js
https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js flot-orderbars@1.0.0 js/jquery.flot.orderBars.js
https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js blueimp-md5@2.19.0 js/md5.min.js
https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js flot@0.8.3 jquery.flot.js
https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js flot@0.8.3 jquery.flot.time.js
https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js flot@0.8.3 jquery.flot.selection.js
https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js flot@0.8.3 jquery.flot.categories.js
https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js stupid-table-plugin@1.1.3 stupidtable.min.js
'

mkdir -p "$cache"
for pkg in $(echo "$VENDOR" | awk 'NF {print $2}' | sort -u); do
    [ -d "$cache/$pkg" ] && continue
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && mkdir -p unpacked && tar xzf ./*.tgz -C unpacked)
    mv "$tmp/unpacked/package" "$cache/$pkg"   # atomic: a half-unpacked package is never cached
    rm -rf "$tmp"
done

site="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$site"; }
trap cleanup EXIT
cp -r "$here/html/." "$site/"
mkdir -p "$site/_vendor"

VENDOR="$VENDOR" CACHE="$cache" SITE="$site" "$python" - <<'EOF'
import base64, hashlib, os, re, shutil

cache, site = os.environ["CACHE"], os.environ["SITE"]
mapping = {}
for line in os.environ["VENDOR"].split("\n"):
    if line.strip():
        url, pkg, path = line.split()
        local = f"_vendor/{pkg}/{path}"
        os.makedirs(os.path.dirname(os.path.join(site, local)), exist_ok=True)
        shutil.copyfile(os.path.join(cache, pkg, path), os.path.join(site, local))
        mapping[url] = local

tag = re.compile(r"<(script|link)\b[^>]*>")
for name in os.listdir(site):
    if not name.endswith(".html"):
        continue
    page = os.path.join(site, name)
    with open(page, encoding="utf-8") as f:
        html = f.read()

    def rewrite(m):
        t = m.group(0)
        for url, local in mapping.items():
            if url in t:
                t = t.replace(url, local)
                sri = re.search(r'\sintegrity="(sha\d+)-([^"]+)"', t)
                if sri:
                    with open(os.path.join(site, local), "rb") as f:
                        digest = base64.b64encode(hashlib.new(sri.group(1), f.read()).digest()).decode()
                    same = digest == sri.group(2)
                    print(f"{name}: {url} -> {local} ({'integrity kept' if same else 'integrity dropped'})")
                    if not same:
                        t = t.replace(sri.group(0), "")
        return t

    html = tag.sub(rewrite, html)
    left = sorted(set(re.findall(r'(?:src|href)="(https://(?:cdn|code)[^"]+)"', html)))
    if left:
        raise SystemExit(f"{name}: CDN addresses not mapped to npm packages: {left}")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html)
EOF

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$python" -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/index.html')" 2>/dev/null && break
    sleep 0.1
done

raw="$site/_screenshot.png"
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$size" \
    --virtual-time-budget=15000 --screenshot="$raw" "http://127.0.0.1:$port/index.html#$page" \
    >/dev/null 2>&1
"$python" - "$raw" "$out" <<'EOF'
import os, shutil, sys

raw, out = sys.argv[1:]
tmp = out + ".tmp.png"
try:
    from PIL import Image
except ImportError:  # keep Chromium's PNG as it is
    shutil.copyfile(raw, tmp)
else:
    Image.open(raw).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(tmp, optimize=True)
os.replace(tmp, out)
print(f"{out}: {os.path.getsize(out) // 1024} KiB")
EOF
