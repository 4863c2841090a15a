package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/server"
	"github.com/whospoke/whospoke/store"
)

func init() {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage API keys and webhook secrets",
		Long: `Manage the API keys and webhook secrets of the server's teams, in the same
store as whospoke serve (--data or --postgres).`,
		Example: `  whospoke keys create --team acme --name laptop
  whospoke keys list --team acme
  whospoke keys webhook-secret --team acme --rotate`,
	}
	var team string
	for _, c := range []*cobra.Command{keysCreateCmd(&team), keysListCmd(&team), keysRevokeCmd(&team), keysWebhookSecretCmd(&team)} {
		c.Flags().StringVar(&team, "team", "default", "team name")
		addStoreFlags(c)
		keys.AddCommand(c)
	}
	rootCmd.AddCommand(keys)
}

// keysCreateCmd is `keys create`; team is the --team flag.
func keysCreateCmd(team *string) *cobra.Command {
	var name, perms string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; it is printed once, alone on the last line",
		Example: `  whospoke keys create --team acme --name laptop
  KEY=$(whospoke keys create --name ci --permissions jobs:write,jobs:read | tail -1)
  whospoke keys create --name mic --permissions stream:write,stream:read`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			var p []string
			if perms != "" {
				p = strings.FieldsFunc(perms, func(r rune) bool { return r == ',' || r == ' ' })
			}
			secret, k, err := server.CreateKey(cmd.Context(), st, *team, name, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s for team %s (%s), permissions: %s\n", k.ID, *team, name, strings.Join(k.Permissions, " "))
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	create.Flags().StringVar(&perms, "permissions", "", "comma-separated permissions (default all: "+strings.Join(server.Permissions, ",")+")")
	return create
}

// keysListCmd is `keys list`.
func keysListCmd(team *string) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Short:   "List a team's keys",
		Example: `  whospoke keys list --team acme`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, t, err := openTeam(cmd, *team)
			if err != nil {
				return err
			}
			defer st.Close()
			ks, err := st.ListKeys(cmd.Context(), t.ID)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tPREFIX\tPERMISSIONS\tCREATED\tREVOKED")
			for _, k := range ks {
				revoked := "-"
				if k.RevokedAt != nil {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, strings.Join(k.Permissions, ","), k.CreatedAt.Format(time.RFC3339), revoked)
			}
			return w.Flush()
		},
	}
	return list
}

// keysRevokeCmd is `keys revoke`.
func keysRevokeCmd(team *string) *cobra.Command {
	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke a key; requests with it get 401 from then on",
		Example: `  whospoke keys list --team acme       # the ID column
  whospoke keys revoke --team acme KEY_ID`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, t, err := openTeam(cmd, *team)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeKey(cmd.Context(), t.ID, args[0]); err != nil {
				return fmt.Errorf("revoke %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	return revoke
}

// keysWebhookSecretCmd is `keys webhook-secret`.
func keysWebhookSecretCmd(team *string) *cobra.Command {
	var rotate bool
	secret := &cobra.Command{
		Use:   "webhook-secret",
		Short: "Print (or --rotate) the team's webhook signing secret, alone on the last line",
		Example: `  whospoke keys webhook-secret --team acme
  whospoke keys webhook-secret --team acme --rotate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := st.EnsureTeam(cmd.Context(), *team)
			if err != nil {
				return err
			}
			if rotate {
				var b [32]byte
				if _, err := rand.Read(b[:]); err != nil {
					return err
				}
				t.WebhookSecret = hex.EncodeToString(b[:])
				if err := st.SetWebhookSecret(cmd.Context(), t.ID, t.WebhookSecret); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.WebhookSecret)
			return nil
		},
	}
	secret.Flags().BoolVar(&rotate, "rotate", false, "replace the secret with a new random one")
	return secret
}

// openTeam opens the store and finds an existing team by name.
func openTeam(cmd *cobra.Command, name string) (store.Store, store.Team, error) {
	st, err := openStore(cmd.Context())
	if err != nil {
		return nil, store.Team{}, err
	}
	t, err := st.TeamByName(cmd.Context(), name)
	if err != nil {
		st.Close()
		return nil, store.Team{}, fmt.Errorf("team %q: %w", name, err)
	}
	return st, t, nil
}
