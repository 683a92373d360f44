/*
 * prepare.h: who may prepare a transaction that changed accounts
 * (prepare.c, PREPARED TRANSACTIONS).
 */
#ifndef ACCOUNT_PREPARE_H
#define ACCOUNT_PREPARE_H

extern void prepare_init(void);

#endif							/* ACCOUNT_PREPARE_H */
