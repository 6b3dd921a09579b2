// rclone with only the backends and commands this repository uses: copy, delete and lsl against
// an S3 remote and local files (gitops/components/backup-object-store), lsjson to read a bucket,
// and `serve s3`, the S3 server the tests stand in for Garage with. rclone's own main imports
// every backend and command (~70 backends: cloud SDKs, FUSE, ...); importing only these is what
// keeps the build short. Built by scripts/install-tools.sh (build_rclone).
package main

import (
	"github.com/rclone/rclone/cmd"

	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/s3"
	_ "github.com/rclone/rclone/cmd/copy"
	_ "github.com/rclone/rclone/cmd/delete"
	_ "github.com/rclone/rclone/cmd/lsjson"
	_ "github.com/rclone/rclone/cmd/lsl"
	_ "github.com/rclone/rclone/cmd/serve/s3"
	_ "github.com/rclone/rclone/cmd/version"
)

func main() { cmd.Main() }
