# podinit as an image to copy from. Two forms:
#   /podinit/podinit.pyz  a single-file zipapp for images with python3 >= 3.9:
#                         COPY --from=podinit /podinit/podinit.pyz /usr/local/bin/podinit
#   /podinit/dist/        self-contained (interpreter, libraries, loader) for any
#                         image with /bin/sh, busybox included:
#                         COPY --from=podinit /podinit/dist /opt/podinit
#                         then run /opt/podinit/bin/podinit
# The build stage's image (BASE) supplies the interpreter of the self-contained
# form and compiles the zipapp's bytecode. No registry is needed: images/build
# makes BASE with debootstrap and the wheelhouse of pure-Python dependencies.
ARG BASE=localhost/podinit-base:bookworm
ARG BUSYBOX=localhost/podinit-busybox:latest
FROM ${BASE} AS build
COPY podinit /src/podinit
COPY images/podinit-forms.sh /src/podinit-forms.sh
COPY .build/wheelhouse /src/wheelhouse
RUN sh /src/podinit-forms.sh /src /podinit

# busybox, so that the image can also install podinit at run time:
# `podinit inject` adds an initContainer that runs cp -a /podinit/dist/. DIR
FROM ${BUSYBOX}
COPY --from=build /podinit /podinit
# A numeric non-root user: a pod with runAsNonRoot and no runAsUser is refused
# an image whose user is root (or a name the kubelet cannot check).
USER 65532:65532
