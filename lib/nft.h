/* nft.h - run nft(8) with a script on stdin, capturing what it prints. */
#ifndef FLANNEL_NFT_H
#define FLANNEL_NFT_H

/*
 * Run NFT (a path, or a name looked up in PATH) with the arguments ARGS
 * (NULL-terminated, without argv[0]), the text INPUT (may be NULL) on stdin.
 * When out is not NULL, *out receives stdout (fl_malloc'd, NUL-terminated).
 * Each line nft prints on stderr is logged as an error (a warning when it
 * succeeded), unless flags has NFT_QUIET.  Returns nft's exit status (0..255), or -1 with errno when nft
 * could not be run (ENOENT: not found).
 */
#define NFT_QUIET 1 /* flags: do not log stderr (an expected failure) */
int nft_run(const char *nft, const char *const args[], const char *input, char **out,
	    unsigned flags);

#endif
