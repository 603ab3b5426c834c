# The image the pipeline's jobs run in, so that a deploy job does not install its tools every time:
# the .NET 10 SDK (the pipeline program), Node and npm (Hexo), tailscale (joining the tailnet),
# the OpenSSH client, git and bash.
#
# Its tag is the first 12 hex digits of the SHA-256 of this file: `./build.sh --target=CiImage`
# builds and pushes $CI_REGISTRY_IMAGE/ci:<tag>, and .gitlab-ci.yml names the same tag (a test
# fails when they differ). Change this file, then put the tag CiImage prints into .gitlab-ci.yml.
FROM alpine:3.23

RUN apk add --no-cache \
        bash \
        ca-certificates \
        dotnet10-sdk \
        git \
        nodejs \
        npm \
        openssh-client \
        tailscale \
        tar

ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
