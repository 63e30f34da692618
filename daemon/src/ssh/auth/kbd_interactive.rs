//! The keyboard-interactive method: who answers each of the server's questions (the
//! password or a person), and the exchange itself.

use russh::client::{AuthResult, Handle, Handler, KeyboardInteractiveAuthResponse};

use crate::ssh::error::Error;
use crate::ssh::prompt::{self, Asker, SecretKind};
use crate::ssh::secret::Secret;

use super::attempts::Attempts;

/// Rounds of keyboard-interactive questions answered before giving up: a server that keeps
/// asking is not asking for a password.
const MAX_KBD_INT_ROUNDS: usize = 5;

/// Who answers one keyboard-interactive question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answerer {
    /// The configured password.
    Password,
    /// A person, asked for this kind of secret.
    Ask(SecretKind),
    /// Nobody: the exchange cannot go on.
    Nobody,
}

/// Whether a question asks for the login password: not echoed, and saying so.
fn looks_like_password(prompt: &str, echo: bool) -> bool {
    !echo && prompt.to_lowercase().contains("password")
}

/// Decides who answers each question of one round. `password_used` carries over between
/// rounds: the password answers one password question per exchange, so that a second one
/// (e.g. "New password") goes to a person.
///
/// Without a person to ask (`can_ask` false) the old rule holds: a lone question of any kind
/// gets the password, several get nobody.
pub(crate) fn plan_answers(
    prompts: &[(&str, bool)],
    have_password: bool,
    password_used: &mut bool,
    can_ask: bool,
) -> Vec<Answerer> {
    if !can_ask {
        return match prompts.len() {
            1 if have_password => vec![Answerer::Password],
            n => vec![Answerer::Nobody; n],
        };
    }
    prompts
        .iter()
        .map(|&(prompt, echo)| {
            let password_like = looks_like_password(prompt, echo);
            if password_like && have_password && !*password_used {
                *password_used = true;
                Answerer::Password
            } else if password_like {
                Answerer::Ask(SecretKind::Password)
            } else {
                Answerer::Ask(SecretKind::Response)
            }
        })
        .collect()
}

/// What a question asks for, for messages: `password` or the server's words without the
/// trailing colon.
fn question_label(prompt: &str, kind: SecretKind) -> String {
    match kind {
        SecretKind::Password => "password".into(),
        _ => {
            let text = prompt.trim().trim_end_matches(':').trim();
            if text.is_empty() {
                "answer".into()
            } else {
                text.to_owned()
            }
        }
    }
}

/// One keyboard-interactive exchange: the password answers the password question, a person
/// (if `asker`) the others.
pub(super) async fn keyboard_interactive<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    password: Option<&Secret>,
    asker: Option<&Asker>,
    att: &mut Attempts,
) -> Result<bool, Error> {
    tracing::debug!(
        user,
        with_password = password.is_some(),
        "trying keyboard-interactive"
    );
    let mut password_used = false;
    let mut response = handle
        .authenticate_keyboard_interactive_start(user, None)
        .await?;
    for _ in 0..MAX_KBD_INT_ROUNDS {
        match response {
            KeyboardInteractiveAuthResponse::Success => {
                att.note("keyboard-interactive".into());
                att.reached_server = true;
                return Ok(true);
            }
            KeyboardInteractiveAuthResponse::Failure {
                remaining_methods,
                partial_success,
            } => {
                att.note("keyboard-interactive".into());
                return Ok(att.result(AuthResult::Failure {
                    remaining_methods,
                    partial_success,
                }));
            }
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                att.reached_server = true;
                let questions: Vec<(&str, bool)> = prompts
                    .iter()
                    .map(|p| (p.prompt.as_str(), p.echo))
                    .collect();
                let plan = plan_answers(
                    &questions,
                    password.is_some(),
                    &mut password_used,
                    asker.is_some(),
                );
                let mut answers = Vec::with_capacity(plan.len());
                for (&(prompt, echo), who) in questions.iter().zip(plan) {
                    match (who, password, asker) {
                        (Answerer::Password, Some(password), _) => {
                            answers.push(password.expose().to_owned());
                        }
                        (Answerer::Ask(kind), _, Some(asker)) => {
                            let label = question_label(prompt, kind);
                            match asker.secret(kind, prompt.to_owned(), echo).await {
                                Ok(answer) => answers.push(answer.expose().to_owned()),
                                Err(e) => {
                                    if let Some(abort) =
                                        prompt::abort_error(&e, &format!("the {label}"))
                                    {
                                        return Err(abort);
                                    }
                                    // Nothing else to try: leave the exchange unanswered.
                                    att.note(format!(
                                        "keyboard-interactive (cannot ask for the {label}: {e})"
                                    ));
                                    return Ok(false);
                                }
                            }
                        }
                        _ => {
                            let n = questions.len();
                            att.note(format!(
                                "keyboard-interactive (server asked {n} questions, only a password is known)"
                            ));
                            return Ok(false);
                        }
                    }
                }
                response = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await?;
            }
        }
    }
    att.note("keyboard-interactive (too many rounds of questions)".into());
    att.reached_server = true;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Answerer::{Ask, Nobody, Password};
    use SecretKind::{Password as PasswordKind, Response};

    fn plan(prompts: &[(&str, bool)], pw: bool, used: &mut bool, ask: bool) -> Vec<Answerer> {
        plan_answers(prompts, pw, used, ask)
    }

    #[test]
    fn password_then_code_across_rounds() {
        let mut used = false;
        assert_eq!(
            plan(&[("Password: ", false)], true, &mut used, true),
            [Password]
        );
        assert!(used);
        assert_eq!(
            plan(&[("Verification code: ", false)], true, &mut used, true),
            [Ask(Response)]
        );
        // A second password question (e.g. an expired password) goes to a person.
        assert_eq!(
            plan(&[("New password: ", false)], true, &mut used, true),
            [Ask(PasswordKind)]
        );
    }

    #[test]
    fn both_questions_in_one_round() {
        let mut used = false;
        assert_eq!(
            plan(
                &[("Password: ", false), ("Verification code: ", false)],
                true,
                &mut used,
                true
            ),
            [Password, Ask(Response)]
        );
    }

    #[test]
    fn without_password_everything_is_asked() {
        let mut used = false;
        assert_eq!(
            plan(
                &[("x2gotest@host's PASSWORD:", false), ("Code", false)],
                false,
                &mut used,
                true
            ),
            [Ask(PasswordKind), Ask(Response)]
        );
        assert!(!used);
    }

    #[test]
    fn echoed_or_other_questions_are_not_the_password() {
        let mut used = false;
        assert_eq!(
            plan(&[("Password hint (shown): ", true)], true, &mut used, true),
            [Ask(Response)]
        );
        assert_eq!(
            plan(&[("Passcode: ", false)], true, &mut used, true),
            [Ask(Response)]
        );
        assert!(!used);
        assert_eq!(plan(&[], true, &mut used, true), []);
    }

    #[test]
    fn without_a_person_the_old_rule_holds() {
        let mut used = false;
        // A lone question gets the password whatever it says, every round.
        assert_eq!(
            plan(&[("Verification code: ", false)], true, &mut used, false),
            [Password]
        );
        assert_eq!(
            plan(&[("Password: ", false)], true, &mut used, false),
            [Password]
        );
        assert_eq!(
            plan(
                &[("Password: ", false), ("Code: ", false)],
                true,
                &mut used,
                false
            ),
            [Nobody, Nobody]
        );
        assert_eq!(
            plan(&[("Password: ", false)], false, &mut used, false),
            [Nobody]
        );
        assert_eq!(plan(&[], false, &mut used, false), []);
    }

    #[test]
    fn labels() {
        assert_eq!(
            question_label("Verification code: ", Response),
            "Verification code"
        );
        assert_eq!(question_label("Password: ", PasswordKind), "password");
        assert_eq!(question_label(" : ", Response), "answer");
    }
}
