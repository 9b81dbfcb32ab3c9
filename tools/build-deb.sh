#!/usr/bin/env bash
# Makes the Debian package of what `make install PREFIX=/usr DESTDIR=STAGE/debian/pfgate`
# put there, with dpkg-deb and a hand-written DEBIAN/ (deploy/debian/): a package of
# one binary needs no debhelper source package, and the build stays `make`'s.
# usage: tools/build-deb.sh STAGE OUT.deb   (env: VERSION, ARCH, STATIC_LIBS)
set -euo pipefail
stage=$1 out=$2
root=$stage/debian/pfgate
src=deploy/debian
: "${VERSION:?}" "${ARCH:?}"

changelog_version=$(dpkg-parsechangelog -l "$src/changelog" -S Version)
[ "$changelog_version" = "$VERSION" ] || {
    echo "build-deb: $src/changelog's newest entry is $changelog_version, VERSION is $VERSION" >&2
    exit 1
}

# Debian's layout: no symbols in the binary, compressed man page and changelog.
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/pfgate"
gzip -9n "$root/usr/share/man/man1/pfgate.1"
install -d "$root/usr/share/doc/pfgate"
install -m 644 "$src/copyright" "$root/usr/share/doc/pfgate/copyright"
# A native package (VERSION has no Debian revision): changelog.gz, not changelog.Debian.gz.
gzip -9n <"$src/changelog" >"$root/usr/share/doc/pfgate/changelog.gz"
chmod 644 "$root/usr/share/doc/pfgate/changelog.gz"
# Each tag lintian still reports, with its reason.
install -D -m 644 "$src/lintian-overrides" "$root/usr/share/lintian/overrides/pfgate"

# Depends: the shared libraries pfgate loads (libc6, libssl3), as dpkg-shlibdeps reads them
# (it finds the package's root by its DEBIAN/).
install -d -m 755 "$root/DEBIAN"
printf 'Source: pfgate\n\nPackage: pfgate\nArchitecture: any\n' >"$stage/debian/control"
depends=$(cd "$stage" && dpkg-shlibdeps -O debian/pfgate/usr/bin/pfgate | sed -n 's/^shlibs:Depends=//p')

# Built-Using: the source packages of the archives linked in (Makefile, LINK=static).
built_using=$(
    for l in $STATIC_LIBS -lgcc; do
        case $l in -l*) ;; *) continue ;; esac
        a=$(gcc -print-file-name="lib${l#-l}.a")
        [ -e "$a" ] || continue
        pkg=$(dpkg -S "$(readlink -f "$a")" 2>/dev/null | head -1 | cut -d: -f1) || continue
        [ -n "$pkg" ] && dpkg-query -W -f='${source:Package} (= ${source:Version})\n' "$pkg"
    done | sort -u | paste -sd, - | sed 's/,/, /g'
)

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@SIZE@|$size|" \
    -e "s|@DEPENDS@|$depends|" -e "s|@BUILT_USING@|$built_using|" \
    "$src/control.in" >"$root/DEBIAN/control"
[ -n "$built_using" ] || sed -i '/^Built-Using: $/d' "$root/DEBIAN/control"
echo /etc/default/pfgate >"$root/DEBIAN/conffiles"
install -m 755 "$src/postinst" "$src/prerm" "$src/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
    xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "built $out"
